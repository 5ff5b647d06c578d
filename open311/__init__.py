"""Open311 GeoReport v2: other apps and cities' tools file and follow complaints through the standard API."""
