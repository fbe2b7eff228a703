import numpy as np

from qtrain.display import html_table, number, text_block, vector


def test_numbers_are_plain_and_short():
    assert number(np.float64(0.123456789)) == "0.1235"
    assert number(np.int64(7)) == "7" and number(None) == "-" and number(np.True_) == "True"
    assert "np." not in vector(np.array([np.float64(1.5), 2.0]))


def test_long_vectors_show_their_shape_and_both_ends():
    text = vector(np.arange(1000.0))
    assert text == "(1000,) [0, 1, 2, …, 997, 998, 999]"
    assert vector(np.zeros((2, 2))) == "[[0, 0], [0, 0]]"


def test_text_block_aligns_names_and_html_table_escapes_cells():
    assert text_block("T", [("a", "1"), ("long", "2")]) == "T\n  a     1\n  long  2"
    table = html_table("<x>", [("a<b", "c&d")])
    assert "&lt;x&gt;" in table and "a&lt;b" in table and "c&amp;d" in table
