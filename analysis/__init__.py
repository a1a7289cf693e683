"""What a study means: read its result tables, aggregate over seeds, attribute the gain, write the report.

Pure functions over DataFrames (DESIGN.md section 9); never imports torch or ray.
    load      read + validate results/{trials,epochs}.csv, find the factors (ResultsError for user errors)
    design    the 2^k cells, terms, +-1 coding, the balanced subset of seeds
    aggregate per-configuration n, mean, std, sem, CI; learning curves; marginal means
    effects   main effects and interactions (Yates), OLS with seed blocks, Holm, partial eta squared
    shapley   exact Shapley attribution of the baseline -> full gain, bootstrap CIs over seeds
    paired    the named models compared seed by seed; the original study's table
    power     minimum detectable effect, seeds needed
    plots     figures from finished frames
    analyse   every statistic of a study, computed once
    render    HTML / Markdown document, atomic writes
    report    build_report(run_dir, metric) and the command line
"""
