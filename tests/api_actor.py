"""One logged-in person on their own test client (own cookie, own CSRF token)."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from tests.builders import PASSWORD


class Actor:
    def __init__(self, app: Any, username: str) -> None:
        self.client = TestClient(app, follow_redirects=False)
        response = self.client.post(
            "/api/session", json={"username": username, "password": PASSWORD}
        )
        assert response.status_code == 200, response.text
        self.headers = {"X-CSRF-Token": response.json()["csrf_token"]}

    def get(self, url: str) -> Any:
        """The JSON of a GET that must succeed."""
        response = self.client.get(url)
        assert response.status_code == 200, (url, response.text)
        return response.json()

    def fetch(self, url: str, **kwargs: Any) -> Any:
        """The whole response of a GET, whatever its status."""
        return self.client.get(url, **kwargs)

    def post(
        self, url: str, body: dict[str, Any] | None = None, status: int = 200, **kwargs: Any
    ) -> Any:
        response = self.client.post(url, json=body, headers=self.headers, **kwargs)
        assert response.status_code == status, (url, response.status_code, response.text)
        return response.json() if response.content else None

    def put(self, url: str, body: dict[str, Any]) -> Any:
        response = self.client.put(url, json=body, headers=self.headers)
        assert response.status_code == 200, (url, response.text)
        return response.json()
