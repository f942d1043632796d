"""Indicators: how the line and every unit perform, as pure functions of the rows the
system records (issue 17, item 1). No I/O: a reader fills the frozen rows of ``rows`` from
queries; every function returns a ``figures.Figure`` (value, numerator, denominator, the ids
of the cases or calls behind them, and a ``figures.Definition`` with the formula in Chinese
for the page's footnote).

- ``periods``: day, ISO week, month, quarter, year and custom periods in the configured
  zone; 环比 (``previous``) and 同比 (``year_earlier``).
- ``figures``: ``Figure``, ``Definition``; counts, rates, means; ``Change`` and ``trend``
  for 同比 and 环比.
- ``rows``: the inputs, ``CallRow``, ``CallbackRow`` and ``CaseFile`` (a case with its
  history, assignments, clocks, extensions, supervision records, replies, feedback).
- ``clocks``: local dates, hours on working days, calendar or working days between dates.
- ``calls``: 来电量, 人工接通率, 15秒接通率, the worst continuous 24 hours, 放弃率, 留言量,
  average wait and talk time, 漏接回拨完成率, time to call back, 重复来电率.
- ``intake``: 登记量, 受理量, 不予受理 (count and rate), 直接办结率, 并单量, 撤回量.
- ``handling``: 交办量, 签收时效, 按时转办率, 退回率, 改派量, 延期量, 办结量, 办结率,
  按时办结率, 超期量 and 超期率, overdue now, 催办/黄牌/红牌, 重办率.
- ``feedback``: 回访率, 满意率 and the five-level split, 按时反馈率.
- ``petitions``: the 信访 profile's 再信访率 and average handling time.
- ``red_flag``: the 红旗窗口 rule of seed 003.
- ``breakdowns``: by channel, type, category, lead unit, window, operator.
- ``catalogue``: every definition, by key.

Conventions: an act counts in the period its own time falls in (a case accepted on 31 March
and closed on 2 April is accepted in March, closed in April); cohort rates (办结率, 回访率,
重办率, 再信访率) follow the cases of the period to ``as_of``, the moment the figures are for,
so a past period's figures can be recomputed as they stood. A rate with nothing to count is
``None`` (shown as —), never 0 % or 100 %.
"""
