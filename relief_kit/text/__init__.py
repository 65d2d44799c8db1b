"""The text layer: how analysts and customers read money, dates, labels and reasons (pt-BR)."""
