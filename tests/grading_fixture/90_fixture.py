# ---
# jupyter:
#   jupytext:
#     formats: py:percent
#     text_representation:
#       extension: .py
#       format_name: percent
#       format_version: '1.3'
#   kernelspec:
#     display_name: Python 3
#     language: python
#     name: python3
# ---

# %% [markdown]
# # 90 · Grading fixture
#
# A tiny notebook in the course's exercise format, for the grader's tests: three exercises
# (a separate check cell, a check in the answer cell, a hidden test), a parameters cell and a results file.

# %% tags=["parameters"]
profile = "ci"
dataset = "synthetic"
data_dir = None
artifacts_dir = None
seed = 42

# %%
import json
import pathlib

numbers = [3, 1, 2]

# %% [markdown]
# ## Exercises
#
# 1. Sort `numbers` into `ordered`.

# %%
### BEGIN SOLUTION
ordered = sorted(numbers)
### END SOLUTION

# %%
assert ordered == [1, 2, 3], f"ordered should be {sorted(numbers)}, got {ordered}"

# %% [markdown]
# 2. The sum of the squares of `numbers`, checked in the same cell.

# %%
# Exercise 2: sum of squares
### BEGIN SOLUTION
total = sum(n * n for n in numbers)
### END SOLUTION
assert total == 14, f"expected 14, got {total}"

# %% [markdown]
# 3. Write `double(x)`.

# %%
def double(x):
    ### BEGIN SOLUTION
    return 2 * x
    ### END SOLUTION


# %%
assert double(2) == 4, "double(2) should be 4"
### BEGIN HIDDEN TESTS
assert double(-3) == -6, "double(-3) should be -6"
### END HIDDEN TESTS

# %%
results = pathlib.Path(artifacts_dir or ".") / "results"
results.mkdir(parents=True, exist_ok=True)
(results / "90_fixture.json").write_text(json.dumps({
    "notebook": "90_fixture", "profile": profile, "dataset": dataset, "seed": seed,
    "metrics": {"numbers": {"count": len(numbers), "sum": sum(numbers)}}, "timings_s": {}, "extra": {}}))
print("results written")
