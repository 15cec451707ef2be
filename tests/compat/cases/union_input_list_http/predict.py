from cog import BasePredictor


class Predictor(BasePredictor):
    def predict(self, nums: list[int] | list[float]) -> str:
        if not nums:
            return "empty"
        return "%s:%s" % (type(nums[0]).__name__, nums[0])
