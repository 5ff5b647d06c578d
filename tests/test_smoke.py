def test_health_reports_backend(client, backend):
    body = client.get("/healthz").get_json()
    assert body["status"] == "ok"
    assert body["database"] == ("postgresql" if backend == "postgres" else "sqlite")
    assert body["queue"] == ("redis" if backend == "postgres" else "embedded")
