/* table.c - the embedded matrices: TSV parsing and the lazily parsed tables */
#include "compat/compat.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

/* named limits of the TSV reader */
#define COMPAT_TSV_MAX_SIZE   ((size_t)4 << 20)
#define COMPAT_TSV_MAX_FIELDS 8

extern const char compat_data_torch[], compat_data_torch_end[];
extern const char compat_data_tf[], compat_data_tf_end[];
extern const char compat_data_cuda[], compat_data_cuda_end[];

/* Split a copy of the TSV into rows of `nf` fields ("-" -> ""), skipping
 * blank lines and "#" comments: *fields_out holds nrows * nf pointers into
 * *storage; extra fields at the end of a line are ignored. */
static int tsv_split(const char *tsv, size_t len, size_t nf, const char *what, char **storage,
		     char ***fields_out, size_t *nrows, struct pn_error **err)
{
	char *copy, *line, *next;
	char **fields = NULL;
	size_t rows = 0, cap = 0, lineno = 0;

	if (len > COMPAT_TSV_MAX_SIZE)
		return pn_error_set(err, PN_ERR_TOO_LARGE, "%s table: larger than %zu bytes", what,
				    COMPAT_TSV_MAX_SIZE);
	copy = xstrndup(tsv, len);
	for (line = copy; line && *line; line = next) {
		size_t k = 0;
		char *p = line;

		lineno++;
		next = strchr(line, '\n');
		if (next)
			*next++ = '\0';
		if (*line == '#' || *line == '\0')
			continue;
		if (rows == cap) {
			cap = cap ? cap * 2 : 64;
			fields = xrealloc(fields, st_mult(st_mult(cap, nf), sizeof(*fields)));
		}
		for (k = 0; k < nf; k++) {
			char *tab = strchr(p, '\t');

			if (!tab && k + 1 < nf) {
				free(copy);
				free(fields);
				return pn_error_set(err, PN_ERR_INVALID,
						    "%s table line %zu: %zu fields, want %zu", what,
						    lineno, k + 1, nf);
			}
			if (tab)
				*tab = '\0';
			fields[rows * nf + k] = strcmp(p, "-") == 0 ? p + 1 : p;
			p = tab ? tab + 1 : p + strlen(p);
		}
		rows++;
	}
	*storage = copy;
	*fields_out = fields;
	*nrows = rows;
	return 0;
}

/* the rows of a table of nf columns, each filled from its fields by fill */
static int table_parse(const char *tsv, size_t len, size_t nf, const char *what, size_t row_size,
		       void (*fill)(void *row, char **fields), void **rows, size_t *n,
		       char **storage, struct pn_error **err)
{
	char **f = NULL, *out;
	size_t nr = 0;

	if (tsv_split(tsv, len, nf, what, storage, &f, &nr, err) < 0)
		return -1;
	out = xcalloc(nr ? nr : 1, row_size);
	for (size_t i = 0; i < nr; i++)
		fill(out + i * row_size, f + i * nf);
	free(f);
	*rows = out;
	*n = nr;
	return 0;
}

static void torch_row(void *row, char **r)
{
	struct compat_torch *t = row;

	t->torch = r[0];
	t->torchvision = r[1];
	t->torchaudio = r[2];
	t->find_links = r[3];
	t->index_url = r[4];
	t->cuda = *r[5] ? r[5] : NULL;
	t->pythons = r[6];
}

int compat_torch_parse(const char *tsv, size_t len, struct compat_torch **rows, size_t *n,
		       char **storage, struct pn_error **err)
{
	void *v;

	if (table_parse(tsv, len, 7, "torch", sizeof(**rows), torch_row, &v, n, storage, err) < 0)
		return -1;
	*rows = v;
	return 0;
}

static void tf_row(void *row, char **r)
{
	struct compat_tf *t = row;

	t->tf = r[0];
	t->cpu_package = r[1];
	t->gpu_package = r[2];
	t->cuda = r[3];
	t->cudnn = r[4];
	t->pythons = r[5];
}

int compat_tf_parse(const char *tsv, size_t len, struct compat_tf **rows, size_t *n, char **storage,
		    struct pn_error **err)
{
	void *v;

	if (table_parse(tsv, len, 6, "tensorflow", sizeof(**rows), tf_row, &v, n, storage, err) < 0)
		return -1;
	*rows = v;
	return 0;
}

static void cuda_row(void *row, char **r)
{
	struct compat_cuda_image *t = row;

	t->tag = r[0];
	t->cuda = r[1];
	t->cudnn = r[2];
	t->ubuntu = r[3];
	t->devel = strcmp(r[4], "1") == 0;
}

int compat_cuda_parse(const char *tsv, size_t len, struct compat_cuda_image **rows, size_t *n,
		      char **storage, struct pn_error **err)
{
	void *v;

	if (table_parse(tsv, len, 5, "cuda", sizeof(**rows), cuda_row, &v, n, storage, err) < 0)
		return -1;
	*rows = v;
	return 0;
}

static struct {
	pthread_once_t once;
	struct compat_torch *torch;
	size_t n_torch;
	struct compat_tf *tf;
	size_t n_tf;
	struct compat_cuda_image *cuda;
	size_t n_cuda;
	char *s1, *s2, *s3;
} tables = {PTHREAD_ONCE_INIT};

static void tables_load(void)
{
	struct pn_error *err = NULL;

	/* the embedded data is ours: a parse failure is a build defect */
	if (compat_torch_parse(compat_data_torch,
			       (size_t)(compat_data_torch_end - compat_data_torch), &tables.torch,
			       &tables.n_torch, &tables.s1, &err) < 0 ||
	    compat_tf_parse(compat_data_tf, (size_t)(compat_data_tf_end - compat_data_tf),
			    &tables.tf, &tables.n_tf, &tables.s2, &err) < 0 ||
	    compat_cuda_parse(compat_data_cuda, (size_t)(compat_data_cuda_end - compat_data_cuda),
			      &tables.cuda, &tables.n_cuda, &tables.s3, &err) < 0)
		PN_BUG("embedded compat data: %s", err->msg);
}

const struct compat_torch *compat_torch_table(size_t *n)
{
	pthread_once(&tables.once, tables_load);
	*n = tables.n_torch;
	return tables.torch;
}

const struct compat_tf *compat_tf_table(size_t *n)
{
	pthread_once(&tables.once, tables_load);
	*n = tables.n_tf;
	return tables.tf;
}

const struct compat_cuda_image *compat_cuda_table(size_t *n)
{
	pthread_once(&tables.once, tables_load);
	*n = tables.n_cuda;
	return tables.cuda;
}
