"""Built-in problems (Hamiltonians, reference circuits and known exact answers); IR only."""
