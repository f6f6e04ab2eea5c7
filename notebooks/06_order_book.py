# ---
# jupyter:
#   jupytext:
#     formats: ipynb,py:percent
#     notebook_metadata_filter: -jupytext.text_representation.jupytext_version
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
# # 6 · An order book by hand: continuous trading
#
# In a **call auction** (notebook 04) everybody's offers and bids for a
# delivery hour are collected until the gate closes and cleared at once, at one
# uniform price. Intraday power markets such as EPEX SPOT's continuous
# intraday market trade differently: every delivery hour has an open **limit
# order book**, and an order is matched the moment it arrives.
#
# The rules (EPEX SPOT, *Intraday Continuous*; Kirschen & Strbac,
# *Fundamentals of Power System Economics*, 2nd ed., 2018, ch. 3):
#
# * a **buy** order pays at most its price, a **sell** order takes at least its
#   price;
# * resting orders are ranked by **price, then time** of arrival
#   (price-time priority): the highest bid and the lowest ask come first, and
#   among equal prices the earlier order;
# * an incoming order that **crosses** the best opposite order (a buy at or
#   above the best ask, a sell at or below the best bid) trades with it **at
#   the resting order's price**, for the smaller of the two quantities, and
#   goes on down the book while it still crosses;
# * what is left of an order rests in the book (a **partial fill**); an order
#   can be **cancelled** while it rests; at gate closure the book closes.
#
# So there is no single price per hour: each trade has its own. Exchanges
# publish the volume-weighted mean of an hour's trades,
#
# $$\bar p = \frac{\sum_k q_k\,p_k}{\sum_k q_k},$$
#
# which hiergrid records as the interval's `market_price` in continuous
# trading (`market.mechanism: continuous`).
#
# `market_control.OrderBook` is that book as a pure class: no simulation, no
# grid. This notebook plays it by hand.

# %%
# %matplotlib inline
import matplotlib.pyplot as plt

from market_control import Bid, Offer, Order, OrderBook, Trade, double_auction


def show(book):
    """Print the resting orders: asks from the highest down, then bids."""
    for order in reversed(book.orders("sell")):
        print(f"  ask {order.quantity_mw:5.2f} MW @ {order.price:6.2f}   {order.participant:8s} t={order.time_ms}")
    print("  " + "-" * 44)
    for order in book.orders("buy"):
        print(f"  bid {order.quantity_mw:5.2f} MW @ {order.price:6.2f}   {order.participant:8s} t={order.time_ms}")


# %% [markdown]
# ## Sellers post their asks
#
# A wind farm offers 5 MW at 40 per MWh, a PV park 3 MW at 38, a hydro plant
# 4 MW at 40 — the same price as the wind farm, but later. Nothing trades yet:
# there is no buyer. (`time_ms` is when the order reached the book.)

# %%
book = OrderBook()
assert book.submit(Order("wind", "sell", 5.0, 40.0, 0)) == []
assert book.submit(Order("pv", "sell", 3.0, 38.0, 1_000)) == []
assert book.submit(Order("hydro", "sell", 4.0, 40.0, 2_000, order_id="hydro-1")) == []
show(book)
assert [o.participant for o in book.orders("sell")] == ["pv", "wind", "hydro"]  # price, then time

# %% [markdown]
# ## A buyer below the best ask rests
#
# A retailer bids for 2 MW up to 35. The best ask is 38: the bid does not
# cross, so it rests in the book. The **spread** is 38 − 35 = 3.

# %%
assert book.submit(Order("retailer", "buy", 2.0, 35.0, 3_000)) == []
show(book)
assert book.best_ask().price - book.best_bid().price == 3.0

# %% [markdown]
# ## A buyer that crosses sweeps the book
#
# A factory wants 10 MW and pays up to 41. It crosses the best ask and takes,
# in order of priority:
#
# 1. PV's 3 MW at **38** (the lowest price),
# 2. wind's 5 MW at **40** (40, and earlier than hydro),
# 3. 2 MW of hydro's 4 MW at **40** — a partial fill: hydro's other 2 MW rest.
#
# Each trade is at the price of the order that was resting, not at the
# factory's 41. The factory pays 3·38 + 7·40 = 394 for 10 MW: 39.4 per MWh.

# %%
trades = book.submit(Order("factory", "buy", 10.0, 41.0, 4_000))
for trade in trades:
    print(trade)
assert trades == [Trade("factory", "pv", 3.0, 38.0, 4_000), Trade("factory", "wind", 5.0, 40.0, 4_000),
                  Trade("factory", "hydro", 2.0, 40.0, 4_000)]
paid = sum(t.quantity_mw * t.price for t in trades)
assert paid == 394.0 and paid / sum(t.quantity_mw for t in trades) == 39.4
show(book)
assert book.best_ask().participant == "hydro" and book.best_ask().quantity_mw == 2.0

# %% [markdown]
# ## Cancel, then a seller crosses
#
# Hydro withdraws what is left of its order. Then a battery sells 4 MW down
# to 30: the best bid is the retailer's 35, so the battery sells 2 MW **at 35**
# (the resting bid's price) and its other 2 MW rest as an ask at 30.

# %%
cancelled = book.cancel("hydro-1")
assert cancelled.quantity_mw == 2.0 and book.best_ask() is None
trades = book.submit(Order("battery", "sell", 4.0, 30.0, 6_000))
assert trades == [Trade("retailer", "battery", 2.0, 35.0, 6_000)]
show(book)

# %% [markdown]
# ## Arrival order matters
#
# The same six orders in another order give other trades. Below, the factory's
# bid arrives **first**: nothing is there to buy, so it rests at 41; then each
# seller that arrives crosses it and is paid **41**, the factory's resting
# price. Same quantity traded, other prices: in continuous trading who sends
# first, and how fast the order travels, decides the price. That is why
# hiergrid sends every order over the area→market link with its latency.
#
# A call auction (`double_auction`, notebook 04) on the same orders gives one
# price for everybody, whatever the order of arrival.

# %%
orders = [Order("wind", "sell", 5.0, 40.0, 0), Order("pv", "sell", 3.0, 38.0, 0),
          Order("hydro", "sell", 4.0, 40.0, 0), Order("retailer", "buy", 2.0, 35.0, 0),
          Order("factory", "buy", 10.0, 41.0, 0)]


def play(sequence):
    book = OrderBook()
    trades = []
    for t, order in enumerate(sequence):
        trades += book.submit(Order(order.participant, order.side, order.quantity_mw, order.price, t))
    return trades


sellers_first = play(orders)
factory_first = play(orders[-1:] + orders[:-1])
for name, trades in (("sellers first", sellers_first), ("factory first", factory_first)):
    volume = sum(t.quantity_mw for t in trades)
    print(f"{name}: {volume:g} MW, mean price {sum(t.quantity_mw * t.price for t in trades) / volume:.2f}")
assert sum(t.quantity_mw for t in sellers_first) == sum(t.quantity_mw for t in factory_first) == 10.0
assert {t.price for t in factory_first} == {41.0} and {t.price for t in sellers_first} == {38.0, 40.0}

uniform = double_auction([Offer(o.participant, o.quantity_mw, o.price) for o in orders if o.side == "sell"],
                         [Bid(o.participant, o.quantity_mw, o.price) for o in orders if o.side == "buy"])
print("call auction:", uniform.quantity_mw, "MW at", uniform.price)
assert uniform.quantity_mw == 10.0

# %% [markdown]
# ## The book as supply and demand curves
#
# Plotted as cumulative quantity against price, the resting asks form a
# supply curve and the resting bids a demand curve; after matching they never
# cross (the best bid stays below the best ask). Here a few more orders rest
# in a fresh book, and the trades of a sweep are marked at their prices.

# %%
book = OrderBook()
asks = [("pv", 3.0, 38.0), ("wind", 5.0, 40.0), ("hydro", 4.0, 44.0), ("gas", 6.0, 55.0)]
bids = [("retailer", 2.0, 35.0), ("heat pumps", 3.0, 32.0), ("storage", 4.0, 25.0)]
for t, (who, q, p) in enumerate(asks):
    book.submit(Order(who, "sell", q, p, t))
for t, (who, q, p) in enumerate(bids, start=len(asks)):
    book.submit(Order(who, "buy", q, p, t))


def cumulative(orders):
    quantity, points = 0.0, []
    for order in orders:
        points += [(quantity, order.price), (quantity + order.quantity_mw, order.price)]
        quantity += order.quantity_mw
    return zip(*points)


fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4))
for ax, when in ((left, "before the sweep"), (right, "")):
    if ax is right:
        sweep = book.submit(Order("factory", "buy", 9.0, 50.0, 99))
    ax.plot(*cumulative(book.orders("sell")), color="C3", label="asks (supply)")
    ax.plot(*cumulative(book.orders("buy")), color="C0", label="bids (demand)")
    ax.set_xlabel("cumulative quantity [MW]")
    ax.set_ylabel("price [per MWh]")
    ax.set_title(when)
    ax.grid(alpha=0.3)
    ax.legend()
bought = 0.0
for trade in sweep:  # each trade at the end of the quantity the factory has bought so far
    bought += trade.quantity_mw
    right.scatter([bought], [trade.price], color="k", zorder=3)
    right.annotate(f"{trade.seller}: {trade.quantity_mw:g} MW @ {trade.price:g}", (bought, trade.price),
                   textcoords="offset points", xytext=(6, -12), fontsize="small")
right.set_title("after a 9 MW buy at 50 (dots: its trades)")
right.set_xlim(-0.5, 13.0)
plt.tight_layout()
plt.show()
assert [(t.seller, t.quantity_mw, t.price) for t in sweep] == [("pv", 3.0, 38.0), ("wind", 5.0, 40.0),
                                                                 ("hydro", 1.0, 44.0)]
assert book.best_bid().price < book.best_ask().price

# %% [markdown]
# ## In the simulation
#
# With `market.mechanism: continuous` every delivery interval of a run has
# such a book (`market_control.continuous.ContinuousMarket`). Each area
# trades in rounds (`market.continuous.period`): it withdraws its resting
# orders and sends what takes it from its position — its day-ahead award plus
# the trades confirmed so far — to its newest forecast. The orders reach the
# book after the link's latency; trades are confirmed back to the areas; at
# gate closure each participant's position is its award, and every trade is
# settled at its own price. `scenarios/market_two_settlement.yaml` runs a week
# of it after a day-ahead auction; its `market_trades` table lists every trade.
#
# **Try it:** send the battery's order above at 36 instead of 30 — what
# trades? Add a second buyer at 41 arriving after the factory: when does it
# get energy, and at what price? Cancel the retailer's bid before the
# battery arrives.
