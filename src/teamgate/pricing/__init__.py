"""Money and cost: integer picodollars, the price list, cost arithmetic, prompt bounds."""
