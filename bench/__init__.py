"""The project's benchmarks: `make bench`, `make bench-scale` and `make bench-logins`.

They are never part of the test suite: timings depend on the machine, so they
print numbers for a person to read instead of passing or failing.
See bench/README.md.
"""
