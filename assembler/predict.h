/* predict.h - `pinion predict` / `pinion serve` internals: Cog's -i input
 * syntax, the HTTP client for the image's server, output files, and running
 * an image's server in the sandbox.
 *
 * Inputs (as `cog predict -i`): `name=value`; `name=@path` reads a file and
 * sends it as a data URL (base64, type from the extension); values are typed
 * by the predictor's schema (components.schemas.Input): integer, number,
 * boolean, array (repeat -i name=... to add items), string; without a schema
 * or an unknown name the value is a string.  A bare `value` (no `=`) goes to
 * the first input in x-order. */
#ifndef PN_ASSEMBLER_PREDICT_H
#define PN_ASSEMBLER_PREDICT_H

#include "common/common.h"
#include "oci/oci.h"

#include <jansson.h>

#define PREDICT_INPUT_FILE_MAX ((size_t)256 << 20)
#define PREDICT_RESPONSE_MAX   ((size_t)512 << 20)

/* add one -i argument to the input object; PN_ERR_INVALID for bad values */
int predict_input_add(json_t *input, const char *arg, const json_t *schema, struct pn_error **err);
/* "data:<type>;base64,<...>" of a file (owned) */
char *predict_data_url(const void *data, size_t len, const char *filename);
/* decode a data URL: bytes (owned) and a file extension for its type */
int predict_data_url_decode(const char *url, unsigned char **out, size_t *len, const char **ext,
			    struct pn_error **err);

/* HTTP (libcurl): method GET or POST with a JSON body; status and body out */
int predict_http(const char *method, const char *url, const char *body, long timeout_s,
		 long *status, char **resp, size_t *resp_len, struct pn_error **err);

/* Write the prediction output: data URLs (also inside lists) become files
 * named output[.N].<ext> in dir (or `path` when given, for one file); other
 * values are printed (strings as they are, the rest as JSON). */
int predict_output_write(const json_t *output, const char *dir, const char *path, FILE *f,
			 struct pn_error **err);

#endif
