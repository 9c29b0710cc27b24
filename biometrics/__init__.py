"""Print pipeline: quality, minutiae, WSQ, sequence check, synthetic prints (issue 3)."""
