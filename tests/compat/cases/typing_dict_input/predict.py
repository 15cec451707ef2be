from typing import Any, Dict, List

from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, data: Dict[str, Any], items: List[Dict[str, Any]]) -> str:
        return "data=%d items=%d" % (len(data), len(items))
