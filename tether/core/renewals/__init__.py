"""The Renewal Center: forecast, GRR/NRR, Analyze views, risk (rules and a model), access.

One module per purpose; computations (``periods``, ``measures``, ``forecast``,
``metrics``, ``risk_rules``, ``risk_model``) are free of I/O, and the modules that query
(``cells``, ``arr_cohort``, ``drilldown``, ``features``, ``scoring``) feed them.
"""
