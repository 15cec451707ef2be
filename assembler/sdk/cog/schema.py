"""The OpenAPI 3 schema of a predictor, in the exact shape Cog's SDK prints
(FastAPI + pydantic 1.10): components Input, Output, PredictionRequest,
PredictionResponse (+ Training* when a trainer is set) and the paths."""

import copy
from typing import Any, Dict, List, Optional

from .signature import NO_DEFAULT

REF = "#/components/schemas/"

# key order of FastAPI's (pre-0.100) openapi Schema model; other keys follow
# in insertion order
_ORDER = ["$ref", "title", "multipleOf", "maximum", "exclusiveMaximum", "minimum",
          "exclusiveMinimum", "maxLength", "minLength", "pattern", "maxItems", "minItems",
          "uniqueItems", "maxProperties", "minProperties", "required", "enum", "type", "allOf",
          "oneOf", "anyOf", "not", "items", "properties", "additionalProperties",
          "description", "format", "default", "nullable", "discriminator", "readOnly",
          "writeOnly", "xml", "externalDocs", "example", "deprecated"]
_FLOATS = ("multipleOf", "maximum", "exclusiveMaximum", "minimum", "exclusiveMinimum")


def ordered(s: Dict[str, Any]) -> Dict[str, Any]:
    """Reorder a schema object (recursively) as FastAPI serialises it."""
    out: Dict[str, Any] = {}
    for k in _ORDER + [k for k in s if k not in _ORDER]:
        if k not in s:
            continue
        v = s[k]
        if k in _FLOATS and isinstance(v, int) and not isinstance(v, bool):
            v = float(v)
        elif k in ("items", "additionalProperties", "not") and isinstance(v, dict):
            v = ordered(v)
        elif k in ("allOf", "anyOf", "oneOf"):
            v = [ordered(x) for x in v]
        elif k == "properties":
            v = {pk: ordered(pv) for pk, pv in v.items()}
        out[k] = v
    return out


def title_of(name: str) -> str:
    """pydantic's field title: `num_outputs` -> `Num Outputs`."""
    return name.title().replace("_", " ")


def encode_default(v: Any) -> Any:
    if isinstance(v, (list, tuple)):
        return [encode_default(x) for x in v]
    if isinstance(v, dict):
        return {str(k): encode_default(x) for k, x in v.items()}
    if isinstance(v, (str, int, float, bool)) or v is None:
        return v
    if hasattr(v, "get_secret_value"):
        return "**********"
    return str(v)


class Builder:
    """Collects components while it turns type descriptions into schemas."""

    def __init__(self) -> None:
        self.components: Dict[str, Any] = {}

    def type_schema(self, t: Dict[str, Any]) -> Dict[str, Any]:
        k = t["kind"]
        if k == "str":
            return {"type": "string"}
        if k == "int":
            return {"type": "integer"}
        if k == "float":
            return {"type": "number"}
        if k == "bool":
            return {"type": "boolean"}
        if k in ("path", "file"):
            return {"type": "string", "format": "uri"}
        if k == "secret":
            return {"type": "string", "format": "password", "writeOnly": True,
                    "x-cog-secret": True}
        if k == "dict":
            return {"type": "object"}
        if k == "any":
            return {}
        if k == "literal":
            first = t["values"][0]
            typ = ("boolean" if isinstance(first, bool) else "integer" if isinstance(first, int)
                   else "number" if isinstance(first, float) else "string")
            return {"enum": list(t["values"]), "type": typ}
        if k == "optional":
            return self.type_schema(t["item"])
        if k == "union":
            return {"anyOf": [ordered(self.type_schema(v)) for v in t["variants"]]}
        if k in ("list", "iterator"):
            return {"type": "array", "items": ordered(self.type_schema(t["item"]))}
        if k == "model":
            self.components[t["name"]] = self.model_schema(t, t["name"])
            return {"$ref": REF + t["name"]}
        raise ValueError("unknown type kind %r" % k)

    def model_schema(self, t: Dict[str, Any], title: str) -> Dict[str, Any]:
        props: Dict[str, Any] = {}
        required: List[str] = []
        for f in t["fields"]:
            ts = self.type_schema(f["type"])
            if "$ref" in ts:
                props[f["name"]] = ts
            else:
                s = {"title": title_of(f["name"])}
                if f["default"] is not NO_DEFAULT and f["default"] is not None:
                    s["default"] = encode_default(f["default"])
                s.update(ts)
                props[f["name"]] = ordered(s)
            if f["default"] is NO_DEFAULT:
                required.append(f["name"])
        s = {"title": title, "type": "object", "properties": props}
        if required:
            s["required"] = required
        return ordered(s)

    def input_schema(self, inputs: List[Dict[str, Any]], title: str) -> Dict[str, Any]:
        props: Dict[str, Any] = {}
        required: List[str] = []
        for order, i in enumerate(inputs):
            props[i["name"]] = self.input_property(i, order)
            if i["default"] is NO_DEFAULT:
                required.append(i["name"])
        s = {"title": title, "type": "object", "properties": {}}
        if required:
            s["required"] = required
        s = ordered(s)
        s["properties"] = props  # already ordered, with nullable last
        return s

    def input_property(self, i: Dict[str, Any], order: int) -> Dict[str, Any]:
        t = i["type"]
        optional = t["kind"] == "optional"
        base = t["item"] if optional else t
        inner = base["item"] if base["kind"] == "list" else base
        s: Dict[str, Any] = {}
        if i["choices"] is not None:
            self.components[i["name"]] = ordered({
                "title": i["name"], "enum": list(i["choices"]),
                "type": "integer" if inner["kind"] == "int" else "string",
                "description": "An enumeration."})
            s["allOf"] = [{"$ref": REF + i["name"]}]
        else:
            s["title"] = title_of(i["name"])
        if i["description"]:
            s["description"] = i["description"]
        # as Cog 0.22 (static_schema_secret_optional): a Secret defaulting to
        # None is an optional credential: nullable, with `default: null`
        optional_secret = base["kind"] == "secret" and i["default"] is None
        if i["default"] is not NO_DEFAULT and (i["default"] is not None or optional_secret):
            s["default"] = encode_default(i["default"])
        if i["choices"] is None:
            if inner["kind"] == "str":
                for attr, key in (("min_length", "minLength"), ("max_length", "maxLength"),
                                  ("regex", "pattern")):
                    if i[attr] is not None:
                        s[key] = i[attr]
            if inner["kind"] in ("int", "float"):
                for attr, key in (("ge", "minimum"), ("le", "maximum")):
                    if i[attr] is not None:
                        s[key] = i[attr]
        if i["deprecated"] is not None:
            s["deprecated"] = i["deprecated"]
        s["x-order"] = order
        if i.get("accept") is not None:
            s["x-cog-accept"] = i["accept"]  # Cog 0.22's Input(accept=)
        if i["choices"] is None:
            s.update(self.type_schema(base))
        s = ordered(s)
        if optional or optional_secret:
            s["nullable"] = True  # added by Cog after FastAPI's serialisation
        return s

    def output_schema(self, t: Dict[str, Any], title: str) -> Dict[str, Any]:
        if t["kind"] == "model" and t["name"] in (title, "TrainingOutput"):
            return self.model_schema(t, title)
        if t["kind"] == "model":
            self.type_schema(t)
            return {"$ref": REF + t["name"]}
        s: Dict[str, Any] = {"title": title}
        if t["kind"] == "iterator":
            s.update(self.type_schema(t))
            s["x-cog-array-type"] = "iterator"
            if t.get("concat"):
                s["x-cog-array-display"] = "concatenate"
        else:
            s.update(self.type_schema(t))
        return ordered(s)


# ------------------------------------------------------------ fixed parts

def _request(title: str, input_ref: str) -> Dict[str, Any]:
    return {
        "title": title, "type": "object",
        "properties": {
            "input": {"$ref": REF + input_ref},
            "id": {"title": "Id", "type": "string"},
            "created_at": {"title": "Created At", "type": "string", "format": "date-time"},
            "context": {"title": "Context", "type": "object",
                        "additionalProperties": {"type": "string"}},
            "output_file_prefix": {"title": "Output File Prefix", "type": "string"},
            "webhook": {"title": "Webhook", "maxLength": 65536, "minLength": 1,
                        "type": "string", "format": "uri"},
            "webhook_events_filter": {"type": "array", "items": {"$ref": REF + "WebhookEvent"},
                                      "default": ["start", "output", "logs", "completed"]},
        }}


def _response(title: str, input_ref: str, output_ref: str) -> Dict[str, Any]:
    def dt(t: str) -> Dict[str, Any]:
        return {"title": t, "type": "string", "format": "date-time"}
    return {
        "title": title, "type": "object",
        "properties": {
            "input": {"$ref": REF + input_ref},
            "output": {"$ref": REF + output_ref},
            "id": {"title": "Id", "type": "string"},
            "version": {"title": "Version", "type": "string"},
            "created_at": dt("Created At"), "started_at": dt("Started At"),
            "completed_at": dt("Completed At"),
            "logs": {"title": "Logs", "type": "string", "default": ""},
            "error": {"title": "Error", "type": "string"},
            "status": {"$ref": REF + "Status"},
            "metrics": {"title": "Metrics", "type": "object"},
        }}


_FIXED = {
    "HTTPValidationError": {
        "title": "HTTPValidationError", "type": "object",
        "properties": {"detail": {"title": "Detail", "type": "array",
                                  "items": {"$ref": REF + "ValidationError"}}}},
    "Status": {"title": "Status",
               "enum": ["starting", "processing", "succeeded", "canceled", "failed"],
               "type": "string", "description": "An enumeration."},
    "ValidationError": {
        "title": "ValidationError", "required": ["loc", "msg", "type"], "type": "object",
        "properties": {
            "loc": {"title": "Location", "type": "array",
                    "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
            "msg": {"title": "Message", "type": "string"},
            "type": {"title": "Error Type", "type": "string"}}},
    "WebhookEvent": {"title": "WebhookEvent", "enum": ["start", "output", "logs", "completed"],
                     "type": "string", "description": "An enumeration."},
}


def _json(schema: Dict[str, Any]) -> Dict[str, Any]:
    return {"application/json": {"schema": schema}}


def _ok(schema: Dict[str, Any]) -> Dict[str, Any]:
    return {"description": "Successful Response", "content": _json(schema)}


_422 = {"description": "Validation Error", "content": _json({"$ref": REF + "HTTPValidationError"})}
_PREFER = {"required": False, "schema": {"title": "Prefer", "type": "string"}, "name": "prefer",
           "in": "header"}


def _simple_op(summary: str, op_id: str, method_doc: Optional[str] = None,
               params: Optional[List[Any]] = None) -> Dict[str, Any]:
    op: Dict[str, Any] = {"summary": summary}
    if method_doc:
        op["description"] = method_doc
    op["operationId"] = op_id
    if params:
        op["parameters"] = params
    op["responses"] = {"200": _ok({"title": title_of("Response_" + op_id)})}
    if params:
        op["responses"]["422"] = _422
    return op


def _routes(noun: str, verb: str, idname: str, idtitle: str, req: str, resp: str,
            docs: bool) -> Dict[str, Any]:
    """POST /noun, PUT /noun/{id}, POST /noun/{id}/cancel."""
    pid = {"required": True, "schema": {"title": idtitle, "type": "string"}, "name": idname,
           "in": "path"}
    body_title = idtitle.replace(" ID", " Request")
    post: Dict[str, Any] = {"summary": title_of(verb)}
    if docs:
        post["description"] = "Run a single prediction on the model"
    post.update({"operationId": "%s_%s_post" % (verb, noun), "parameters": [_PREFER],
                 "requestBody": {"content": _json({"$ref": REF + req})},
                 "responses": {"200": _ok({"$ref": REF + resp}), "422": _422}})
    put: Dict[str, Any] = {"summary": title_of(verb + "_idempotent")}
    if docs:
        put["description"] = "Run a single prediction on the model (idempotent creation)."
    put.update({"operationId": "%s_idempotent_%s__%s__put" % (verb, noun, idname),
                "parameters": [pid, _PREFER],
                "requestBody": {"content": _json({"title": body_title,
                                                  "allOf": [{"$ref": REF + req}]}),
                                "required": True},
                "responses": {"200": _ok({"$ref": REF + resp}), "422": _422}})
    cancel_name = "cancel" if docs else "cancel_training"
    cancel = _simple_op(title_of(cancel_name),
                        "%s_%s__%s__cancel_post" % (cancel_name, noun, idname),
                        "Cancel a running prediction" if docs else None, [pid])
    return {"/" + noun: {"post": post}, "/%s/{%s}" % (noun, idname): {"put": put},
            "/%s/{%s}/cancel" % (noun, idname): {"post": cancel}}


def openapi(predict: Dict[str, Any], train: Optional[Dict[str, Any]] = None) -> Dict[str, Any]:
    """The whole document for a predictor's (and optionally a trainer's)
    interface as read by cog.signature / cog.static."""
    b = Builder()
    comps: Dict[str, Any] = copy.deepcopy(_FIXED)
    comps["Input"] = b.input_schema(predict["inputs"], "Input")
    comps["Output"] = b.output_schema(predict["output"], "Output")
    comps["PredictionRequest"] = _request("PredictionRequest", "Input")
    comps["PredictionResponse"] = _response("PredictionResponse", "Input", "Output")
    paths: Dict[str, Any] = {"/shutdown": {"post": _simple_op(
        "Start Shutdown", "start_shutdown_shutdown_post")}}
    if train is not None:
        comps["TrainingInput"] = b.input_schema(train["inputs"], "TrainingInput")
        comps["TrainingOutput"] = b.output_schema(train["output"], "TrainingOutput")
        comps["TrainingRequest"] = _request("TrainingRequest", "TrainingInput")
        comps["TrainingResponse"] = _response("TrainingResponse", "TrainingInput",
                                              "TrainingOutput")
        paths.update(_routes("trainings", "train", "training_id", "Training ID",
                             "TrainingRequest", "TrainingResponse", False))
    paths["/"] = {"get": _simple_op("Root", "root__get")}
    paths["/health-check"] = {"get": _simple_op("Healthcheck", "healthcheck_health_check_get")}
    paths.update(_routes("predictions", "predict", "prediction_id", "Prediction ID",
                         "PredictionRequest", "PredictionResponse", True))
    if predict.get("streaming"):  # Cog 0.22: @cog.streaming, SSE on this operation
        paths["/predictions"]["post"]["x-cog-streaming"] = True
    for k, v in b.components.items():
        comps.setdefault(k, v)
    comps = {k: ordered(comps[k]) if k not in ("Input", "TrainingInput") else comps[k]
             for k in sorted(comps)}
    return {"openapi": "3.0.2", "info": {"title": "Cog", "version": "0.1.0"},
            "paths": paths, "components": {"schemas": comps}}


# ------------------------------------------------------------------ label

def label_text(doc: Any) -> str:
    """The document as Cog writes it into the `run.cog.openapi_schema`
    label: Cog's CLI decodes the schema into Go maps and json.Marshal()s them
    back, so keys are sorted at every level, there is no whitespace, every
    number is a float64 printed shortest (5.0 -> 5, 1e-07 -> 1e-7), and
    <, >, &, U+2028 and U+2029 in strings are \\u-escaped."""
    if doc is None or isinstance(doc, bool):
        return "true" if doc is True else "false" if doc is False else "null"
    if isinstance(doc, (int, float)):
        return _go_number(float(doc))
    if isinstance(doc, str):
        return _go_string(doc)
    if isinstance(doc, (list, tuple)):
        return "[" + ",".join(label_text(x) for x in doc) + "]"
    if isinstance(doc, dict):
        keys = sorted(str(k) for k in doc)
        by_str = {str(k): v for k, v in doc.items()}
        return "{" + ",".join(_go_string(k) + ":" + label_text(by_str[k]) for k in keys) + "}"
    raise TypeError("not a JSON value: %r" % (doc,))


def _go_number(f: float) -> str:
    """strconv.AppendFloat(f, 'f' or 'e', -1, 64) as encoding/json uses it."""
    import decimal
    import math
    if not math.isfinite(f):
        raise ValueError("JSON has no %r" % f)
    a = abs(f)
    if a != 0 and (a < 1e-6 or a >= 1e21):
        mant, _, exp = repr(f).partition("e")
        e = int(exp)
        digits = "%02d" % abs(e)
        if e < 0 and digits[0] == "0":  # Go trims e-07 to e-7, not e+21
            digits = digits[1:]
        return "%se%s%s" % (mant, "-" if e < 0 else "+", digits)
    # the shortest digits that round-trip, written out without an exponent
    return format(decimal.Decimal(repr(f)).normalize(), "f")


def _go_string(s: str) -> str:
    import json
    import re
    out = json.dumps(re.sub("[\ud800-\udfff]", "\ufffd", s), ensure_ascii=False)
    for ch, esc in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026"),
                    ("\u2028", "\\u2028"), ("\u2029", "\\u2029")):
        out = out.replace(ch, esc)
    return out
