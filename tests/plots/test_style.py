import math

from gnnjet.plots.style import markdown_table


def test_markdown_table_rows_columns_and_missing_values():
    lines = markdown_table({"A": {"auc": 0.912345, "acc": 0.8}, "B": {"auc": 0.5}})
    assert lines[0] == "| model | auc | acc |"
    assert lines[1] == "|---|---|---|"
    assert lines[2] == "| A | 0.9123 | 0.8 |"
    assert lines[3].startswith("| B | 0.5 | ") and "nan" in lines[3]
    assert math.isnan(float(lines[3].split("|")[3]))
