"""Index options: Black-76 maths (`greeks`), valuing a chain's prices (`valuation`), reading
the chain (`chain`) and its wire shape (`render`). docs/options.md explains the choices."""
