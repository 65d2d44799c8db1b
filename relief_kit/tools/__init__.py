"""Tools that are not the runtime: the sample generator, the demo, the benchmark,
the test oracles.
"""
