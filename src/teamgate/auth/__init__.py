"""Who may call now: client keys, the cache that follows the store, pause switches, the 401 gate."""
