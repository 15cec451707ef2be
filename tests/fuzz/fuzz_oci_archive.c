/* fuzz_oci_archive.c - arbitrary bytes as an archive file, read once as an
 * oci-archive and once as a docker-archive, each into a fresh temporary
 * layout (oci/archive.c, docker_archive.c): refused or read, never a crash,
 * and nothing written outside the temporary directory. */
#include "oci/oci.h"

#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size);

static void read_once(const char *dir, const char *file, bool docker)
{
	struct pn_error *err = NULL;
	struct oci_layout *l = NULL;
	char *layout = pn_path_join(dir, docker ? "docker" : "oci");
	char *tag = NULL;

	if (oci_layout_open(layout, OCI_LAYOUT_CREATE, &l, NULL) < 0)
		abort();
	if (docker)
		oci_docker_archive_unpack(l, file, NULL, &tag, &err);
	else
		oci_archive_unpack(l, file, &err);
	pn_error_clear(&err);
	free(tag);
	oci_layout_free(l);
	free(layout);
}

int LLVMFuzzerTestOneInput(const unsigned char *data, size_t size)
{
	const char *tmp = getenv("TMPDIR") ? getenv("TMPDIR") : "/tmp";
	char *dir = pn_mkdtemp_in(tmp, "pinion-fuzz-archive-", NULL);
	char *file;
	int fd;

	if (!dir)
		abort();
	file = pn_path_join(dir, "in.tar");
	fd = open(file, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || pn_write_all(fd, data, size) < 0 || close(fd) < 0)
		abort();
	read_once(dir, file, false);
	read_once(dir, file, true);
	if (pn_rm_rf(dir, NULL) < 0)
		abort();
	free(file);
	free(dir);
	return 0;
}
