/* test_assembler_predict.c - predict's and train's inputs checked against
 * the model's schema (predict_input.c), the server's refusal as one line,
 * -o for a text output, and the static predictor check (predict_check.c) */
#include "tests/unit/tap.h"
#include "assembler/predict.h"
#include "common/cleanup.h"

#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* as cog's SDK writes it: choices are an allOf $ref to an enum component */
static json_t *schema(void)
{
	return json_loads(
		"{\"components\":{\"schemas\":{"
		"\"Input\":{\"type\":\"object\",\"required\":[\"prompt\"],\"properties\":{"
		"\"times\":{\"type\":\"integer\",\"minimum\":1,\"maximum\":10,\"x-order\":1},"
		"\"prompt\":{\"type\":\"string\",\"minLength\":2,\"maxLength\":5,\"x-order\":0},"
		"\"mood\":{\"allOf\":[{\"$ref\":\"#/components/schemas/mood\"}],\"x-order\":2},"
		"\"size\":{\"allOf\":[{\"$ref\":\"#/components/schemas/size\"}],\"x-order\":3},"
		"\"temp\":{\"type\":\"number\",\"minimum\":0,\"maximum\":1.5,\"x-order\":4},"
		"\"ids\":{\"type\":\"array\",\"items\":{\"type\":\"integer\",\"maximum\":3},"
		"\"x-order\":5}}},"
		"\"mood\":{\"title\":\"mood\",\"enum\":[\"happy\",\"sad\"],\"type\":\"string\"},"
		"\"size\":{\"title\":\"size\",\"enum\":[256,512],\"type\":\"integer\"},"
		"\"TrainingInput\":{\"type\":\"object\",\"properties\":{"
		"\"steps\":{\"type\":\"integer\",\"maximum\":5,\"x-order\":0}}}"
		"}}}",
		0, NULL);
}

/* add the arguments, then check the whole input: the first error (or none) */
static int try_inputs(const json_t *s, const char *component, const char *const *args,
		      struct pn_error **err)
{
	cleanup_json json_t *in = json_object();

	for (size_t i = 0; args[i]; i++)
		if (predict_input_add_to(in, args[i], s, component, err) < 0)
			return -1;
	return predict_input_check(in, s, component, err);
}

#define TRY(...) try_inputs(s, "Input", (const char *const[]){__VA_ARGS__, NULL}, &err)

static void is_msg(struct pn_error **err, const char *want, const char *what)
{
	ok(*err && (*err)->code == PN_ERR_INVALID, "%s: invalid input", what);
	is_str(*err ? (*err)->msg : NULL, want, "%s: the one line", what);
	pn_error_clear(err);
}

static void t_checks(void)
{
	cleanup_json json_t *s = schema();
	struct pn_error *err = NULL;

	ok_call(TRY("prompt=hi", "times=3", "mood=sad", "size=512", "temp=1.5", "ids=1", "ids=3"),
		&err, "good inputs pass");
	ok(TRY("prompt=hi", "nope=1") < 0, "unknown name refused");
	is_msg(&err,
	       "unknown input `nope`; the model's inputs: prompt, times, mood, size, temp, ids",
	       "unknown name");
	ok(TRY("prompt=hi", "times=11") < 0, "above the maximum");
	is_msg(&err, "input `times`: 11 is more than the maximum 10", "maximum");
	ok(TRY("prompt=hi", "times=0") < 0, "below the minimum");
	is_msg(&err, "input `times`: 0 is less than the minimum 1", "minimum");
	ok(TRY("prompt=hi", "temp=1.75") < 0, "a number above its maximum");
	is_msg(&err, "input `temp`: 1.75 is more than the maximum 1.5", "number maximum");
	ok(TRY("prompt=hi", "mood=angry") < 0, "not a choice");
	is_msg(&err, "input `mood`: `angry` is not one of the choices `happy`, `sad`", "choices");
	ok(TRY("prompt=hi", "size=300") < 0, "an integer not a choice");
	is_msg(&err, "input `size`: 300 is not one of the choices 256, 512", "integer choices");
	ok(TRY("prompt=hi", "size=big") < 0, "choices are typed by their enum");
	is_msg(&err, "input `size`: `big` is not a valid integer", "choice type");
	ok(TRY("prompt=hi", "times=many") < 0, "wrong type");
	is_msg(&err, "input `times`: `many` is not a valid integer", "the prefix once");
	ok(TRY("prompt=hi", "ids=4") < 0, "a list item checked");
	is_msg(&err, "input `ids`: 4 is more than the maximum 3", "list item");
	ok(TRY("prompt=abcdef") < 0, "too long");
	is_msg(&err, "input `prompt`: `abcdef` is longer than 5 characters", "maxLength");
	ok(TRY("prompt=a") < 0, "too short");
	is_msg(&err, "input `prompt`: `a` is shorter than 2 characters", "minLength");
	ok(TRY("times=2") < 0, "a required input missing");
	is_msg(&err, "input `prompt` is required (-i prompt=VALUE)", "required");
	ok_call(try_inputs(s, "TrainingInput", (const char *const[]){"steps=5", NULL}, &err), &err,
		"train inputs by TrainingInput");
	ok(try_inputs(s, "TrainingInput", (const char *const[]){"times=1", NULL}, &err) < 0,
	   "predict's inputs are not train's");
	is_msg(&err, "unknown input `times`; the model's inputs: steps", "train's inputs listed");
	ok_call(try_inputs(NULL, "Input", (const char *const[]){"any=1", NULL}, &err), &err,
		"no schema: nothing to check");
}

static void t_files(void)
{
	const char *dir = tap_tmpdir();
	cleanup_free char *f = pn_path_join(dir, "in.txt");
	cleanup_free char *good = xasprintf("img=@%s", f);
	cleanup_free char *isdir = xasprintf("img=@%s", dir);
	struct pn_error *err = NULL;

	pn_write_file_atomic(f, "x", 1, 0644, NULL);
	ok_call(predict_input_files_check((const char *const[]){"a=1", good, "@", "b=@"}, 2, &err),
		&err, "an existing file and plain values pass");
	ok_fail(predict_input_files_check((const char *const[]){"img=@/nonexistent/x"}, 1, &err),
		&err, PN_ERR_INVALID, "input `img`: file `/nonexistent/x`",
		"a missing file: invalid");
	ok_fail(predict_input_files_check((const char *const[]){isdir}, 1, &err), &err,
		PN_ERR_INVALID, "not a regular file", "a directory refused");
}

static void t_refusal(void)
{
	const char *body = "{\"detail\":[{\"loc\":[\"body\",\"input\",\"x\"],\"msg\":\"bad x\","
			   "\"type\":\"value_error\"}]}";
	cleanup_free char *line = predict_refusal_message(body, strlen(body));

	is_str(line, "input `x`: bad x", "pydantic's detail as one line");
	ok(predict_refusal_message("oops", 4) == NULL, "not that shape: NULL");
}

static void t_output_text(void)
{
	cleanup_free char *p = pn_path_join(tap_tmpdir(), "said.txt");
	cleanup_json json_t *out = json_string("hello, you!");
	cleanup_json json_t *obj = json_pack("{s:i}", "a", 1);
	cleanup_free char *text = NULL;
	struct pn_error *err = NULL;
	FILE *f = tmpfile();
	size_t len;

	ok_call(predict_output_write(out, ".", p, f, &err), &err, "-o PATH for a string");
	ok_call(pn_read_file(p, 100, &text, &len, &err), &err, "written");
	is_str(text, "hello, you!", "the text as it is");
	free(text);
	text = NULL;
	ok_call(predict_output_write(obj, ".", p, f, &err), &err, "-o PATH for JSON");
	ok_call(pn_read_file(p, 100, &text, &len, &err), &err, "written");
	ok(text && strstr(text, "\"a\": 1"), "the JSON");
	rewind(f);
	ok_call(predict_output_write(json_null(), ".", NULL, f, &err), &err, "a None output: 0");
	ok(ftell(f) == 0, "nothing on stdout for None");
	fclose(f);
}

/* one -i NAME=VALUE against props, the value sent as JSON (NULL: refused) */
static char *sent(const char *props, const char *arg, struct pn_error **err)
{
	cleanup_free char *text = xasprintf("{\"components\":{\"schemas\":{\"Input\":{\"type\":"
					    "\"object\",\"properties\":%s}}}}",
					    props);
	cleanup_json json_t *s = json_loads(text, 0, NULL);
	cleanup_json json_t *in = json_object();

	if (predict_input_add(in, arg, s, err) < 0)
		return NULL;
	return json_dumps(json_object_get(in, "v"), JSON_ENCODE_ANY | JSON_COMPACT);
}

#define IS_SENT(props, arg, want, what)                                                            \
	do {                                                                                       \
		cleanup_free char *got_ = sent(props, arg, &err);                                  \
		is_str(got_, want, what);                                                          \
		pn_error_clear(&err);                                                              \
	} while (0)

/* Cog's union_input_cli and dict_input: how a VALUE is read */
static void t_union_dict(void)
{
	const char *num = "{\"v\":{\"anyOf\":[{\"type\":\"number\"},{\"type\":\"string\"}]}}";
	const char *ib = "{\"v\":{\"anyOf\":[{\"type\":\"integer\"},{\"type\":\"boolean\"}]}}";
	const char *str = "{\"v\":{\"anyOf\":[{\"type\":\"string\"},{\"type\":\"integer\"}]}}";
	const char *dict = "{\"v\":{\"type\":\"object\"}}";
	struct pn_error *err = NULL;

	IS_SENT(num, "v=1.5", "1.5", "a number member: 1.5 a number");
	IS_SENT(num, "v=1", "1", "1 an int");
	IS_SENT(num, "v=abc", "\"abc\"", "else a string");
	IS_SENT(num, "v=true", "\"true\"", "true a string without a bool member");
	IS_SENT(ib, "v=true", "true", "a bool member: true a bool");
	IS_SENT(ib, "v=false", "false", "false a bool");
	IS_SENT(ib, "v=7", "7", "an int member: 7 an int");
	IS_SENT(str, "v=1.5", "\"1.5\"", "no number member: 1.5 a string");
	IS_SENT(dict, "v={\"a\":1}", "{\"a\":1}", "a dict input is JSON");
	ok(sent(dict, "v=[1]", &err) == NULL && err && err->code == PN_ERR_INVALID,
	   "a dict input that is no JSON object: invalid");
	is_str(err ? err->msg : NULL, "input `v`: `[1]` is not a JSON object", "the one line");
	pn_error_clear(&err);
}

static void t_health(void)
{
	ok(predict_health_up("READY") && predict_health_up("BUSY") &&
		   predict_health_up("UNHEALTHY"),
	   "READY, BUSY and UNHEALTHY are up");
	ok(!predict_health_up("STARTING") && !predict_health_up("SETUP_FAILED") &&
		   !predict_health_up(NULL),
	   "STARTING, SETUP_FAILED and none are not");
	ok(PREDICT_HEALTH_TIMEOUT_S >= 10, "a health request may take 10 s");
}

/* a model directory with cog.yaml and predict.py */
static char *model(const char *name, const char *yaml, const char *py)
{
	cleanup_free char *dir = pn_path_join(tap_tmpdir(), name);
	cleanup_free char *y = pn_path_join(dir, "cog.yaml");
	cleanup_free char *p = pn_path_join(dir, "predict.py");

	mkdir(dir, 0755);
	pn_write_file_atomic(y, yaml, strlen(yaml), 0644, NULL);
	if (py)
		pn_write_file_atomic(p, py, strlen(py), 0644, NULL);
	return pn_path_join(dir, "cog.yaml");
}

static const char yaml[] =
	"build:\n  python_version: \"3.11\"\npredict: \"predict.py:Predictor\"\n";
static const char good_py[] = "from cog import BasePredictor\n"
			      "class Predictor(BasePredictor):\n"
			      "    def predict(self) -> str:\n        return 'x'\n";

static void t_predictor(void)
{
	cleanup_free char *ok_y = model("ok", yaml, good_py);
	cleanup_free char *imp = model("imp", yaml, "from elsewhere import Predictor\n");
	cleanup_free char *nocls = model("nocls", yaml, "class Other:\n    pass\n");
	cleanup_free char *syn =
		model("syn", yaml, "class Predictor:\n    def x(:\n        pass\n");
	cleanup_free char *nopy = model("nopy", yaml, NULL);
	bool py = system("command -v python3 >/dev/null 2>&1") == 0;
	cleanup_free char *path = xstrdup(getenv("PATH") ? getenv("PATH") : "/usr/bin:/bin");
	struct pn_error *err = NULL;

	ok_call(predict_check_model(ok_y, false, &err), &err, "a predictor that loads");
	ok_call(predict_check_model(imp, false, &err), &err, "an imported class counts");
	ok_fail(predict_check_model(nocls, false, &err), &err, PN_ERR_INVALID,
		"predict `predict.py:Predictor`: `predict.py` defines no `Predictor`",
		"a missing class");
	ok_fail(predict_check_model(ok_y, true, &err), &err, PN_ERR_INVALID, "has no `train:`",
		"train without train:");
	ok_fail(predict_check_model(nopy, false, &err), &err, PN_ERR_INVALID,
		"`predict.py` does not exist in the model directory", "a missing predict.py");
	if (py) /* the syntax part needs the host's python3 */
		ok_fail(predict_check_model(syn, false, &err), &err, PN_ERR_INVALID,
			"predict.py:2:", "a syntax error: file:line:column");
	/* without python3: the text check still finds a missing class */
	setenv("PATH", "/nonexistent", 1);
	ok_fail(predict_check_model(nocls, false, &err), &err, PN_ERR_INVALID, "defines no",
		"without python3: a missing class");
	ok_call(predict_check_model(ok_y, false, &err), &err, "without python3: the class found");
	setenv("PATH", path, 1);
}

int main(void)
{
	TEST(t_checks);
	TEST(t_files);
	TEST(t_refusal);
	TEST(t_output_text);
	TEST(t_union_dict);
	TEST(t_health);
	TEST(t_predictor);
	return tap_done();
}
