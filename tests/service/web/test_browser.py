"""The search page in real headless Chromium: type a question, see a CGCT result, copy its citation."""

from __future__ import annotations

import shutil
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
import uvicorn
from helpers.api_checks import free_port
from helpers.paths import REPO
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.common.keys import Keys
from selenium.webdriver.remote.webelement import WebElement
from selenium.webdriver.support import expected_conditions
from selenium.webdriver.support.ui import Select, WebDriverWait

from indexer.index.progress import ProgressFile, progress_path
from indexer.search.retriever import Retriever
from service.app import create_app
from service.settings import ServiceSettings

pytestmark = pytest.mark.browser

CHROMIUM = "/usr/bin/chromium"
CHROMEDRIVER = "/usr/bin/chromedriver"
ARTIFACTS = REPO / "test-artifacts"


@contextmanager
def served(settings: ServiceSettings, retriever: Retriever) -> Iterator[str]:
    """A real uvicorn server on loopback, in a thread, over `retriever`; yields its address."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, retriever=retriever), host="127.0.0.1", port=port, log_level="warning"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline, "le serveur n'a pas démarré"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server_url(fake_settings: ServiceSettings, retriever: Retriever) -> Iterator[str]:
    """The server of the subset bundle."""
    with served(fake_settings, retriever) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[webdriver.Chrome]:
    assert Path(CHROMIUM).is_file() and Path(CHROMEDRIVER).is_file(), (
        "Chromium manque : apt-get install -y chromium chromium-driver"
    )
    profile = tempfile.mkdtemp(prefix="qfq-chromium-")
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--lang=fr-FR",
        "--window-size=1200,1400",
        f"--user-data-dir={profile}",
    ):
        options.add_argument(flag)
    driver = webdriver.Chrome(service=Service(executable_path=CHROMEDRIVER), options=options)
    driver.set_page_load_timeout(30)
    try:
        yield driver
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)


def test_type_a_question_and_see_a_cgct_result(browser: webdriver.Chrome, server_url: str) -> None:
    browser.get(server_url + "/")
    assert browser.find_element(By.TAG_NAME, "html").get_attribute("lang") == "fr"
    box = browser.find_element(By.ID, "q")
    assert browser.find_element(By.CSS_SELECTOR, "label[for=q]").text == "Votre question"
    Select(browser.find_element(By.ID, "niveau")).select_by_value("commune")
    box.send_keys("Qui assure la collecte des déchets ménagers ?")
    box.send_keys(Keys.ENTER)
    WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "li.hit"))
    )
    hits = browser.find_elements(By.CSS_SELECTOR, "li.hit")
    first = hits[0]
    citation = first.find_element(By.CSS_SELECTOR, "h2.citation").text
    assert citation.startswith("CGCT, art. L2224-") and "(version du 2020-10-28)" in citation
    assert first.find_element(By.CSS_SELECTOR, ".status").text == "en vigueur"
    assert first.find_elements(By.CSS_SELECTOR, "blockquote mark")
    link = first.find_element(By.PARTIAL_LINK_TEXT, "Légifrance").get_attribute("href")
    assert link and link.startswith("https://www.legifrance.gouv.fr/")
    first.find_element(By.CSS_SELECTOR, "button.copy").click()
    note = first.find_element(By.CSS_SELECTOR, ".copied")
    WebDriverWait(browser, 5).until(lambda _: note.text)
    assert note.text == "Citation copiée."
    assert "qfq_http_requests" not in browser.page_source  # the page shows no internals
    ARTIFACTS.mkdir(exist_ok=True)
    assert browser.save_screenshot(str(ARTIFACTS / "recherche-cgct.png"))


def _ask(browser: webdriver.Chrome, server_url: str, question: str, card: str) -> WebElement:
    """Type a question on the search page, press Enter and return the card the CSS selector names."""
    browser.get(server_url + "/")
    box = browser.find_element(By.ID, "q")
    box.send_keys(question)
    box.send_keys(Keys.ENTER)
    WebDriverWait(browser, 20).until(expected_conditions.presence_of_element_located((By.CSS_SELECTOR, card)))
    return browser.find_element(By.CSS_SELECTOR, card)


def test_the_answer_card_sits_above_the_passages(browser: webdriver.Chrome, server_url: str) -> None:
    card = _ask(
        browser,
        server_url,
        "Notre communauté de communes doit-elle gérer la collecte des ordures ménagères ?",
        "article.reponse",
    )
    first_hit = browser.find_element(By.CSS_SELECTOR, "li.hit")
    assert card.location["y"] < first_hit.location["y"]
    assert card.find_element(By.TAG_NAME, "h2").text.startswith(
        "Réponse : Collecte et traitement des déchets"
    )
    level = card.find_element(By.CSS_SELECTOR, "section.reponse-niveau")
    assert level.get_attribute("data-niveau") == "communaute-de-communes"
    assert "Communauté de communes — compétence obligatoire" in level.find_element(By.TAG_NAME, "h3").text
    caption = level.find_element(By.CSS_SELECTOR, "figure.cite figcaption").text
    assert "CGCT, art. L5214-16 (version du 2020-10-28)" in caption and "en vigueur" in caption
    assert "déchets des ménages" in level.find_element(By.CSS_SELECTOR, "blockquote.extrait").text
    assert "« ordures ménagères »" in card.find_element(By.CSS_SELECTOR, ".pourquoi").text
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "reponse.png"))

    browser.get(server_url + "/?q=horaires+de+la+piscine+municipale")
    WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "section.results"))
    )
    assert not browser.find_elements(By.CSS_SELECTOR, "article.reponse")


def test_a_mechanism_card_explains_how_a_competence_returns_to_the_communes(
    browser: webdriver.Chrome, server_url: str
) -> None:
    card = _ask(
        browser,
        server_url,
        "Comment une commune peut-elle reprendre une compétence transférée à sa communauté ?",
        "article.mecanisme",
    )
    assert card.get_attribute("data-mecanisme") == "restitution-competence"
    assert card.location["y"] < browser.find_element(By.CSS_SELECTOR, "li.hit").location["y"]
    assert card.find_element(By.TAG_NAME, "h2").text == "Mécanisme : Rendre une compétence aux communes"
    assert "trois mois" in card.find_element(By.TAG_NAME, "p").text
    caption = card.find_element(By.CSS_SELECTOR, "figure.cite figcaption").text
    assert "CGCT, art. L5211-17-1 (version du" in caption and "en vigueur" in caption
    assert not browser.find_elements(By.CSS_SELECTOR, "article.reponse")  # who holds it is not asked
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "mecanisme.png"))


def test_the_matrix_page_shows_cells_exports_and_prints_on_a4_landscape(
    browser: webdriver.Chrome, server_url: str
) -> None:
    browser.get(server_url + "/matrice")
    for level in ("commune", "communaute-de-communes"):
        browser.find_element(By.CSS_SELECTOR, f"input[name=niveau][value={level}]").click()
    Select(browser.find_element(By.ID, "theme")).select_by_value("dechets")
    browser.find_element(By.CSS_SELECTOR, "form.search button[type=submit]").click()
    WebDriverWait(browser, 20).until(
        expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "table.matrix"))
    )
    columns = [
        th.get_attribute("data-niveau")
        for th in browser.find_elements(By.CSS_SELECTOR, "thead th[data-niveau]")
    ]
    assert columns == ["commune", "communaute-de-communes"]
    cell = browser.find_element(
        By.CSS_SELECTOR, "tr[data-sujet=dechets] td[data-niveau=communaute-de-communes]"
    )
    assert cell.get_attribute("data-categorie") == "obligatoire"
    assert cell.find_element(By.CSS_SELECTOR, ".categorie").text == "obligatoire"
    link = cell.find_element(By.LINK_TEXT, "cgct/L5214-16").get_attribute("href")
    assert link and link.startswith("https://www.legifrance.gouv.fr/")
    assert cell.find_element(By.CSS_SELECTOR, ".version").text == "version du 2020-10-28"
    exports = {a.text: a.get_attribute("href") for a in browser.find_elements(By.CSS_SELECTOR, ".exports a")}
    assert (
        "format=ods" in exports["tableur OpenDocument (.ods)"] and "theme=dechets" in exports["Excel (.xlsx)"]
    )
    assert "Sources : cgct (version du 2020-10-28)" in browser.find_element(By.ID, "legende").text
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "matrice.png"))
    # Printed: A4 landscape, no navigation or form, the legend and sources under the table.
    page_sizes = browser.execute_script(
        "return [...document.styleSheets].flatMap(s => [...s.cssRules])"
        ".filter(r => r instanceof CSSPageRule).map(r => r.style.getPropertyValue('size'));"
    )
    assert [size.lower() for size in page_sizes] == ["a4 landscape"]
    browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": "print"})
    try:
        assert not browser.find_element(By.CSS_SELECTOR, "header.site").is_displayed()
        assert not browser.find_element(By.CSS_SELECTOR, "form.search").is_displayed()
        assert browser.find_element(By.ID, "legende").is_displayed()
        assert browser.find_element(By.CSS_SELECTOR, "table.matrix").is_displayed()
    finally:
        browser.execute_cdp_cmd("Emulation.setEmulatedMedia", {"media": ""})


def test_the_changes_page_lists_l5214_16_and_links_the_feed(
    browser: webdriver.Chrome, server_url: str
) -> None:
    browser.get(server_url + "/changements")
    Select(browser.find_element(By.ID, "niveau")).select_by_value("communaute-de-communes")
    since = browser.find_element(By.ID, "depuis")
    browser.execute_script("arguments[0].value = '2015-01-01';", since)
    Select(browser.find_element(By.ID, "theme")).select_by_value("eau-assainissement")
    browser.find_element(By.CSS_SELECTOR, "form.search button[type=submit]").click()
    WebDriverWait(browser, 30).until(expected_conditions.presence_of_element_located((By.ID, "resume")))
    assert "depuis le 2015-01-01" in browser.find_element(By.ID, "resume").text
    article = browser.find_element(
        By.CSS_SELECTOR, "section[data-theme=eau-assainissement] li[data-article='cgct/L5214-16']"
    )
    assert article.find_element(By.CSS_SELECTOR, "h3").text == "CGCT, art. L5214-16"
    events = article.find_element(By.CSS_SELECTOR, "ul.events").text
    assert "2015-08-09 : modifié par Loi n°2015-991" in events
    water = browser.find_elements(By.CSS_SELECTOR, "ol.evolutions li[data-competence=cc-eau]")
    assert any("Loi eau et assainissement 2025" in item.text for item in water)
    assert any("2020-10-28" in note.text for note in browser.find_elements(By.CSS_SELECTOR, "p.warning"))
    feed = browser.find_element(By.CSS_SELECTOR, "a.feed").get_attribute("href")
    assert feed and "/v1/changements.atom?niveau=communaute-de-communes&theme=eau-assainissement" in feed
    ARTIFACTS.mkdir(exist_ok=True)
    browser.save_screenshot(str(ARTIFACTS / "changements.png"))


def test_the_first_run_banner_says_the_search_is_lexical_for_now(
    browser: webdriver.Chrome, lexical_settings: ServiceSettings, lexical_retriever: Retriever
) -> None:
    """Served from the lexical-only index while the passages are embedded: a banner on every page."""
    record = ProgressFile(progress_path(lexical_settings.bundles_dir))
    record.update("embeddings", 300, 1200)
    with served(lexical_settings, lexical_retriever) as url:
        browser.get(url + "/")
        banner = browser.find_element(By.CSS_SELECTOR, "p.bandeau-index")
        assert banner.get_attribute("role") == "status" and banner.is_displayed()
        assert (
            banner.text.startswith("Recherche lexicale seulement, pour l'instant.") and "25 %" in banner.text
        )
        assert banner.location["y"] < browser.find_element(By.ID, "contenu").location["y"]
        box = browser.find_element(By.ID, "q")
        box.send_keys("Notre communauté de communes doit-elle gérer la collecte des ordures ménagères ?")
        box.send_keys(Keys.ENTER)
        WebDriverWait(browser, 20).until(
            expected_conditions.presence_of_element_located((By.CSS_SELECTOR, "li.hit"))
        )
        # The knowledge answers and the passages are listed, under the banner.
        assert browser.find_elements(By.CSS_SELECTOR, "article.reponse")
        assert browser.find_element(By.CSS_SELECTOR, "p.bandeau-index").is_displayed()
        ARTIFACTS.mkdir(exist_ok=True)
        browser.save_screenshot(str(ARTIFACTS / "premier-lancement.png"))
