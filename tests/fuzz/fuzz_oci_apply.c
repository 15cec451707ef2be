/* fuzz_oci_apply.c - the layer applier on arbitrary bytes (any compression),
 * into a fresh temporary directory with small limits, once applying
 * whiteouts and once keeping them in overlay form. */
#include "oci/oci.h"

#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void apply_once(const unsigned char *data, size_t size, bool overlay_whiteouts)
{
	struct oci_apply_opts o;
	struct pn_error *err = NULL;
	char *dest = NULL;
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	int fd = memfd_create("layer", MFD_CLOEXEC);

	if (fd < 0 || pn_write_all(fd, data, size) < 0 || lseek(fd, 0, SEEK_SET) < 0)
		abort();
	dest = pn_mkdtemp_in(tmp, "pinion-fuzz-apply-", NULL);
	if (!dest)
		abort();
	oci_apply_opts_init(&o);
	o.max_bytes = 16 << 20;
	o.max_entries = 10000;
	o.skip_devices = true;
	o.overlay_whiteouts = overlay_whiteouts;
	oci_layer_apply_fd(fd, dest, &o, &err);
	pn_error_clear(&err);
	close(fd);
	if (pn_rm_rf(dest, NULL) < 0)
		abort();
	free(dest);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	apply_once(data, size, false);
	apply_once(data, size, true);
	return 0;
}
