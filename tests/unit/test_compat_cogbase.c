/* test_compat_cogbase.c - the cog-base image set (Cog's
 * BaseImageConfigurations), Cog's version match, the look-up with Cog's
 * normalisation, the companions of torch, and the base choice's reasons.
 * The whole set is compared with an independent derivation in
 * tests/e2e/t_base_image.sh (tests/tools/cog_base_matrix.py). */
#include "tests/unit/tap.h"
#include "compat/compat.h"
#include "common/cleanup.h"

#include <stdlib.h>

static void t_version_matches(void)
{
	ok(compat_version_matches("2.1", "2.1.2"), "no patch matches any patch");
	ok(compat_version_matches("2.1.0", "2.1.0+cu121"), "the local suffix is ignored");
	ok(!compat_version_matches("2.1.0", "2.1.1"), "patches differ");
	ok(!compat_version_matches("12", "12.1"), "a missing minor is 0");
	ok(compat_version_matches("12.1.1", "12.1"), "12.1.1 is CUDA 12.1");
	ok(!compat_version_matches("1.2.3.4", "1.2.3"), "four parts are no version");
	ok(!compat_version_matches("2.x", "2.1"), "a part that is no number");
	ok(!compat_version_matches("", "2.1"), "empty");
	ok(!compat_version_matches("3.", "3.0"), "a trailing dot");
}

static void t_set(void)
{
	size_t n, cpu = 0, cuda_python = 0, python_only = 0;
	const struct compat_cog_base *v = compat_cog_base_table(&n);
	bool tags_ok = true, unique = true, minimums = true;

	ok(n > 100, "the set has %zu entries", n);
	for (size_t i = 0; i < n; i++) {
		cleanup_free char *tag = compat_cog_base_tag(v[i].cuda, v[i].python, v[i].torch);

		tags_ok &= strcmp(tag, v[i].tag) == 0;
		for (size_t j = 0; j < i && unique; j++)
			unique &= strcmp(v[i].tag, v[j].tag) != 0;
		minimums &= compat_version_cmp(v[i].python, "3.10") >= 0 &&
			    (!v[i].cuda || compat_version_cmp(v[i].cuda, "11.6") >= 0) &&
			    (!v[i].torch || compat_version_cmp(v[i].torch, "1.13.1") >= 0);
		cpu += !v[i].cuda && v[i].torch;
		cuda_python += v[i].cuda && !v[i].torch;
		python_only += !v[i].cuda && !v[i].torch;
		if (v[i].torch && v[i].row != NULL && strcmp(v[i].row->torch, v[i].torch) != 0)
			tags_ok = false;
	}
	ok(tags_ok, "every tag is Cog's BaseImageName of its parts");
	ok(unique, "no tag twice");
	ok(minimums, "Python >= 3.10, CUDA >= 11.6, torch >= 1.13.1");
	ok(cpu > 0 && cuda_python > 0 && python_only > 0,
	   "CPU (%zu), CUDA+Python (%zu), Python (%zu)", cpu, cuda_python, python_only);
	is_str(v[n - 1].cuda, NULL, "the Python-only entries come last");
	ok(!v[n - 1].torch, "the last has no torch");
}

static void t_find(void)
{
	const struct compat_cog_base *e;

	e = compat_cog_base_find("12.1", "3.11", "2.1.0");
	is_str(e ? e->tag : NULL, "cuda12.1-python3.11-torch2.1.0", "the GPU example");
	is_str(e ? e->torch : NULL, "2.1.0+cu121", "its torch as listed");
	e = compat_cog_base_find("12.1.1", "3.11", "2.1");
	is_str(e ? e->tag : NULL, "cuda12.1-python3.11-torch2.1.2",
	       "a torch without patch: the highest (Cog's normalisation)");
	e = compat_cog_base_find(NULL, "3.11", "2.1.0");
	is_str(e ? e->tag : NULL, "python3.11-torch2.1.0", "CPU torch");
	is_str(e ? e->torch : NULL, "2.1.0+cpu", "the CPU row");
	e = compat_cog_base_find("", "3.12", "");
	is_str(e ? e->tag : NULL, "python3.12", "Python alone (\"\" is absent)");
	e = compat_cog_base_find("11.6", "3.12", NULL);
	is_str(e ? e->tag : NULL, "cuda11.6-python3.12",
	       "Cog's cross product of Pythons and CUDAs");
	ok(!compat_cog_base_find("11.0", "3.11", NULL), "CUDA below 11.6: none");
	ok(!compat_cog_base_find(NULL, "3.9", NULL), "Python below 3.10: none");
	ok(!compat_cog_base_find("12.1", "3.11", "1.12.1"), "torch below 1.13.1: none");
	ok(!compat_cog_base_find("12.1", NULL, NULL), "no Python: none");
	ok(!compat_cog_base_find(NULL, "3.11", "9.9.9"), "unknown torch: none");
	ok(compat_cog_base_valid(false, "12.1", "3.11", "2.1.0"), "valid: CPU ignores the CUDA");
	ok(!compat_cog_base_valid(true, NULL, "3.11", NULL), "valid: GPU needs a CUDA");
}

static void t_companions(void)
{
	const char *tv, *ta;

	compat_cog_base_companions("2.1.0", &tv, &ta);
	is_str(tv, "0.16.0", "torchvision of 2.1.0");
	is_str(ta, "2.1.0", "torchaudio of 2.1.0");
	compat_cog_base_companions("1.13.1", &tv, &ta);
	is_str(tv, "0.14.1+cpu", "the first matching row's, as Cog takes it");
	compat_cog_base_companions("9.9.9", &tv, &ta);
	ok(!tv && !ta, "unknown torch: none");
}

static int miss(const char *ref, bool *exists, void *ud, struct pn_error **err)
{
	(void)ref, (void)ud, (void)err;
	*exists = false;
	return 0;
}

static void t_reasons(void)
{
	struct compat_base_req gpu = {true,    "3.11",	    "12.1",	 "8",
				      "2.1.0", COMPAT_AUTO, COMPAT_AUTO, "mirror.local/org",
				      miss,    NULL};
	struct compat_base_choice c;
	struct pn_error *err = NULL;

	ok_call(compat_base_choose(&gpu, &c, &err), &err, "GPU, registry without it");
	ok(tap_contains(c.reason,
			"no cog-base image `mirror.local/org/cog-base:cuda12.1-python3.11-"
			"torch2.1.0` in the registry"),
	   "the reason names the image looked for: %s", c.reason);
	compat_base_choice_release(&c);
	gpu.cuda = "11.0";
	gpu.torch = NULL;
	ok_call(compat_base_choose(&gpu, &c, &err), &err, "GPU 11.0");
	ok(tap_contains(c.reason, "no cog-base image is made for CUDA 11.0"),
	   "the reason says none is made: %s", c.reason);
	compat_base_choice_release(&c);
	gpu.gpu = false;
	gpu.python = "3.12";
	ok_call(compat_base_choose(&gpu, &c, &err), &err, "CPU");
	ok(tap_contains(c.reason, "CPU, no cog-base image `mirror.local/org/cog-base:python3.12`"),
	   "CPU reason: %s", c.reason);
	is_str(c.image, "python:3.12-slim", "CPU: python slim");
	compat_base_choice_release(&c);
	gpu.gpu = true;
	gpu.cuda = NULL;
	gpu.use_cog_base = COMPAT_YES;
	ok_fail(compat_base_choose(&gpu, &c, &err), &err, PN_ERR_NOT_FOUND,
		"no cog-base image is made for CUDA none",
		"GPU without a CUDA and --use-cog-base-image: an error, not the CPU image");
}

int main(void)
{
	TEST(t_version_matches);
	TEST(t_set);
	TEST(t_find);
	TEST(t_companions);
	TEST(t_reasons);
	return tap_done();
}
