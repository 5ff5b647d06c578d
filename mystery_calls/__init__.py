"""Mystery calls: audit staff place scored test calls to agencies' service hotlines."""
