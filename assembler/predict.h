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
#include <signal.h>

#define PREDICT_INPUT_FILE_MAX ((size_t)256 << 20)
#define PREDICT_RESPONSE_MAX   ((size_t)512 << 20)

/* the properties of components.schemas.<component> ("Input" for predict,
 * "TrainingInput" for train), or NULL */
const json_t *predict_schema_props(const json_t *schema, const char *component);
/* their names in x-order, ", "-separated (owned) */
char *predict_input_names(const json_t *props);
/* add one -i argument to the input object, typed by the component's schema:
 * PN_ERR_INVALID for a value of the wrong type and for a name the schema
 * does not have (the error lists the model's inputs); a missing @FILE is
 * PN_ERR_NOT_FOUND.  Without a schema every name is taken, as a string. */
int predict_input_add_to(json_t *input, const char *arg, const json_t *schema,
			 const char *component, struct pn_error **err);
/* predict_input_add_to with "Input" */
int predict_input_add(json_t *input, const char *arg, const json_t *schema, struct pn_error **err);
/* the whole input against the schema (PN_ERR_INVALID, one line: the input,
 * the value, the constraint): known names, minimum/maximum, minLength/
 * maxLength, choices (enum), required inputs.  0 without a schema. */
int predict_input_check(const json_t *input, const json_t *schema, const char *component,
			struct pn_error **err);
/* each NAME=@FILE (or @FILE) argument names a readable regular file:
 * PN_ERR_INVALID otherwise (run before any build or server start) */
int predict_input_files_check(const char *const *args, size_t n, struct pn_error **err);
/* a server's 422 answer as one line ("input `x`: <msg>"), owned, or NULL */
char *predict_refusal_message(const char *body, size_t len);
/* "data:<type>;base64,<...>" of a file (owned) */
char *predict_data_url(const void *data, size_t len, const char *filename);
/* decode a data URL: bytes (owned) and a file extension for its type */
int predict_data_url_decode(const char *url, unsigned char **out, size_t *len, const char **ext,
			    struct pn_error **err);

/* Before the build of the model in the current directory: each predictor
 * config_file names (`predict:`, `train:`) exists beneath the model
 * directory, parses as Python (the host's
 * python3, when there is one) and defines its class or function;
 * PN_ERR_INVALID otherwise, as when `train` is asked and there is no
 * `train:`.  Problems of cog.yaml itself are left to the build (0). */
int predict_check_model(const char *config_file, bool train, struct pn_error **err);

/* a /health-check status that means the server is up: READY, BUSY, UNHEALTHY */
bool predict_health_up(const char *status);
/* the timeout of one /health-check request: a user healthcheck() may take 5 s */
#define PREDICT_HEALTH_TIMEOUT_S 10

/* HTTP (libcurl): method GET or POST with a JSON body; status and body out */
int predict_http(const char *method, const char *url, const char *body, long timeout_s,
		 long *status, char **resp, size_t *resp_len, struct pn_error **err);
/* while *flag is non-zero (a signal handler sets it) requests end at once
 * with "interrupted"; NULL: never */
void predict_http_cancel_on(volatile sig_atomic_t *flag);

/* Write the prediction output: data URLs (also inside lists) become files
 * named output[.N].<ext> in dir (or `path` when given, for one file); other
 * values are printed (strings as they are, the rest as JSON), or written to
 * `path` when given. */
int predict_output_write(const json_t *output, const char *dir, const char *path, FILE *f,
			 struct pn_error **err);

#endif
