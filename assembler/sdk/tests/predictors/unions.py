from typing import List, Optional, Union

from cog import BasePredictor, Input


class Predictor(BasePredictor):
    """Cog's union_input_http fixture."""

    def predict(self, value: str | float | None = Input(default=None)) -> str:
        if value is None:
            return "NoneType:none"
        return f"{type(value).__name__}:{value}"


class ListUnion(BasePredictor):
    """Cog's union_input_list_http fixture."""

    def predict(self, nums: list[int] | list[float]) -> str:
        if not nums:
            return "empty"
        return f"{type(nums[0]).__name__}:{nums[0]}"


class Several(BasePredictor):
    """Unions spelled every way, for the schema."""

    def predict(
        self,
        value: str | float | None = Input(default=None, description="A string or a number"),
        nums: list[int] | list[float] = Input(description="Numbers"),
        flipped: Union[float, str] = 2.5,
        flag: Optional[Union[bool, int]] = None,
        anything: Union[str, dict, List[str]] = Input(default="x"),
    ) -> str:
        return repr((value, nums, flipped, flag, anything))
