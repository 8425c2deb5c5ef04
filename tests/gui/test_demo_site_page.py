"""Demo Site area: start errors are shown in plain words; the window never crashes."""

from __future__ import annotations

import socket

from core.workspace import Workspace
from tests.gui.conftest import SLOW, wait_idle


def test_port_in_use_shows_error(qtbot, make_window, workspace_with_server: Workspace) -> None:
    window = make_window(workspace_with_server.root)
    page = window.demo_site_page
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen(1)
        port = busy.getsockname()[1]
        page.port.setValue(port)
        with qtbot.waitSignal(window.messages.shown, timeout=SLOW) as shown:
            page.start_button.click()
        wait_idle(qtbot, window)
    level, _title, text = shown.args
    assert level == "error"
    assert f"Port {port} on 127.0.0.1 is already in use" in text
    assert window.session.site is None
    assert page.start_button.isEnabled()
    assert not page.stop_button.isEnabled()


def test_start_without_server_certificate_says_so(qtbot, make_window, workspace_with_ca: Workspace) -> None:
    window = make_window(workspace_with_ca.root)
    page = window.demo_site_page
    assert "issue a server certificate first" in page.state.text()
    with qtbot.waitSignal(window.messages.shown, timeout=SLOW) as shown:
        page.start_button.click()
    assert shown.args[0] == "error"
    assert "no server certificate" in shown.args[2]
    assert window.session.site is None


def test_bad_username_is_refused_before_saving(qtbot, make_window, workspace_with_ca: Workspace) -> None:
    window = make_window(workspace_with_ca.root)
    page = window.demo_site_page
    page.username.setText("has spaces")
    page.password.setText("long enough password")
    with qtbot.waitSignal(window.messages.shown, timeout=SLOW) as shown:
        page.save_user_button.click()
    assert shown.args[1] == "Username not accepted"
    assert workspace_with_ca.users.usernames() == []


def test_closing_the_window_stops_the_site(qtbot, make_window, workspace_with_server: Workspace) -> None:
    window = make_window(workspace_with_server.root)
    page = window.demo_site_page
    page.port.setValue(0)
    page.start_button.click()
    wait_idle(qtbot, window)
    site = window.session.site
    assert site is not None and site.running
    host, port = site.address
    window.close()
    assert not site.running
    with socket.socket() as probe:
        assert probe.connect_ex((host, port)) != 0


def test_friendly_mode_serves_the_how_to_page_without_a_certificate(qtbot, make_window,
                                                                    workspace_with_server: Workspace) -> None:
    import ssl
    import urllib.request

    window = make_window(workspace_with_server.root)
    page = window.demo_site_page
    page.port.setValue(0)
    page.mode.setCurrentIndex(page.mode.findData("friendly"))
    page.start_button.click()
    wait_idle(qtbot, window)
    site = window.session.site
    assert site is not None and site.config.mode == "friendly"
    assert not page.mode.isEnabled() and page.open_url.isEnabled()
    ctx = ssl.create_default_context(cafile=str(workspace_with_server.ca_cert_path))
    try:
        urllib.request.urlopen(site.url, context=ctx, timeout=10)
        raise AssertionError("expected HTTP 403")
    except urllib.error.HTTPError as exc:
        assert exc.code == 403
        assert "Your browser sent no certificate" in exc.read().decode()
        exc.close()



def test_a_login_is_added_and_removed_from_the_page(qtbot, make_window, workspace_with_server: Workspace) -> None:
    window = make_window(workspace_with_server.root)
    page = window.demo_site_page
    page.username.setText("grace")
    page.generate_button.click()
    page.save_user_button.click()
    wait_idle(qtbot, window)
    assert workspace_with_server.users.usernames() == ["grace"]
    assert "grace" in page.users.text()
    page.username.setText("grace")
    page.remove_user_button.click()
    assert workspace_with_server.users.usernames() == []
    assert page.users.text() == "none yet" and "Removed" in page.user_note.text()
    with qtbot.waitSignal(window.messages.shown, timeout=SLOW) as shown:
        page.remove_user_button.click()  # nobody of that name any more
    assert shown.args[0] == "error" and "no login 'grace'" in shown.args[2]
