"""The server-rendered French page and its embeddable variant."""

from __future__ import annotations

import html
import re

from fastapi.testclient import TestClient

from service.api.presenters import highlight


def test_page_without_question_shows_an_accessible_form(client: TestClient) -> None:
    response = client.get("/")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    page = response.text
    assert '<html lang="fr">' in page
    for field in ("q", "niveau", "theme", "abroges"):
        assert f'<label for="{field}">' in page and f'id="{field}"' in page
    assert '<option value="commune">Commune</option>' in page
    assert 'role="search"' in page and 'aria-live="polite"' in page
    assert "frame-ancestors 'self'" in response.headers["content-security-policy"]
    assert "<ol" not in page


def test_page_shows_cited_results(client: TestClient) -> None:
    response = client.get("/", params={"q": "collecte des déchets ménagers", "niveau": "commune"})
    assert response.status_code == 200
    page = response.text
    assert '<option value="commune" selected>' in page
    first = page.index('class="hit"')
    assert "CGCT, art. L2224-" in page[first : first + 600]
    assert 'class="status status-en_vigueur">en vigueur<' in page
    assert '<time datetime="2020-10-28">' in page
    assert "<mark>déchets</mark>" in page
    assert re.search(r'data-citation="CGCT, art\. L2224-[^"]+ — https://www\.legifrance\.gouv\.fr/', page)
    assert (
        'href="/v1/search/export?q=collecte+des+d%C3%A9chets+m%C3%A9nagers&amp;k=10&amp;niveau=commune'
        in page
    )
    assert 'target="_blank" rel="noopener noreferrer"' in page


def test_page_errors_are_shown_in_french(client: TestClient) -> None:
    unknown = client.get("/", params={"q": "déchets", "niveau": "canton"})
    assert unknown.status_code == 422 and 'role="alert"' in unknown.text
    assert "Valeur de niveau inconnue : canton" in html.unescape(unknown.text)
    too_long = client.get("/", params={"q": "mot " * 200})
    assert too_long.status_code == 422 and "dépasse 500 caractères" in too_long.text


def test_abrogated_checkbox(client: TestClient) -> None:
    hidden = client.get("/", params={"q": "article L5214-12"}).text
    shown = client.get("/", params={"q": "article L5214-12", "abroges": "1"}).text
    assert "status-abroge" not in hidden
    assert (
        'status status-abroge">abrogé<' in shown
        and 'name="abroges" type="checkbox" value="1" checked' in shown
    )


def test_embed_page_uses_the_frame_ancestors_setting(make_app) -> None:  # noqa: ANN001
    app = make_app(frame_ancestors="https://intranet.example; script-src *")
    with TestClient(app) as client:
        response = client.get("/embed", params={"q": "déchets"})
    assert response.status_code == 200
    csp = response.headers["content-security-policy"]
    assert csp.endswith("frame-ancestors https://intranet.example script-src *")
    assert csp.count(";") == 7  # the setting cannot add a directive
    assert 'action="/embed"' in response.text and '<header class="site">' not in response.text
    assert "CGCT" in response.text


def test_highlight_escapes_html() -> None:
    text = "Le <script>maire</script> & les communes : commune, intercommunalité."
    marked = highlight(text, ["commune", "maire"])
    assert "<script>" not in marked
    assert marked == (
        "Le &lt;script&gt;<mark>maire</mark>&lt;/script&gt; &amp; les communes : <mark>commune</mark>, "
        "intercommunalité."
    )
    assert highlight("rien", []) == "rien"


def test_static_assets(client: TestClient) -> None:
    script = client.get("/static/app.js")
    assert script.status_code == 200 and "navigator.clipboard" in script.text and "execCommand" in script.text
    assert client.get("/static/style.css").status_code == 200


def test_the_page_shows_one_result_per_article(client: TestClient) -> None:
    question = "communauté de communes compétences"
    page = client.get("/", params={"q": question}).text
    shown = re.findall(r'data-passage-id="([^"#]+)(?:#\d+)?"', page)
    assert shown and len(shown) == len(set(shown)), shown  # no article twice
    api = client.get("/v1/search", params={"q": question, "k": 10}).json()["hits"]
    articles = [hit["article_id"] for hit in api]
    assert len(articles) > len(set(articles))  # the API, ungrouped by default, has repeats for this question
