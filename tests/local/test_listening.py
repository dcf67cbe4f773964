"""Where the local stack listens and what its URLs name: 127.0.0.1 unless told, a phone's address when
it listens on the network (`up --listen`, `--public-host`). Nothing here binds a socket."""

from __future__ import annotations

import pytest

from local import listening
from local.listening import Listening, NoNetworkAddress, listen_address
from local.stack import LocalStack, StackConfig


def stack_with(listen: Listening) -> LocalStack:
    return LocalStack(StackConfig(aws_port=5000, api_port=8000, listen=listen))


def test_by_default_the_stack_listens_on_loopback_and_names_it() -> None:
    # GIVEN a stack configured as `up` is with no flag
    stack = LocalStack(StackConfig())
    # THEN it listens on 127.0.0.1 only, every URL names 127.0.0.1, nothing is overridden for browsers
    assert stack.config.listen == Listening("127.0.0.1")
    assert not stack.config.listen.exposed and stack.config.listen.warning() is None
    assert stack.public_api_url == stack.api_url == "http://127.0.0.1:8000"
    assert stack.public_aws_url == stack.aws_url == "http://127.0.0.1:5000"
    assert stack.browser_environment() == {}


def test_on_the_network_the_pages_urls_carry_the_phones_host() -> None:
    # GIVEN a stack listening on every interface, whose phones reach it at 192.168.1.20
    stack = stack_with(Listening("0.0.0.0", "192.168.1.20"))
    # THEN the page, the presigned photo forms and Cognito are on that host
    assert stack.public_api_url == "http://192.168.1.20:8000"
    assert stack.browser_environment() == {
        "AWS_ENDPOINT_URL_S3": "http://192.168.1.20:5000",
        "COGNITO_ENDPOINT": "http://192.168.1.20:5000/",
    }
    # AND the stack's own processes still reach it on loopback
    assert stack.aws_url == "http://127.0.0.1:5000"


def test_a_lan_address_to_listen_on_is_the_host_of_every_url() -> None:
    stack = stack_with(Listening("192.168.1.20"))
    assert stack.aws_url == stack.public_aws_url == "http://192.168.1.20:5000"
    assert stack.public_api_url == "http://192.168.1.20:8000"


def test_listening_on_the_network_warns_in_one_line() -> None:
    warning = Listening("0.0.0.0", "192.168.1.20").warning()
    assert warning is not None and "\n" not in warning
    assert "no TLS" in warning and "test credentials" in warning and "anyone on the network" in warning


def test_all_interfaces_without_a_network_address_asks_for_the_public_host(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # GIVEN a machine with loopback only
    monkeypatch.setattr(listening, "network_address", lambda: None)
    # WHEN the stack is to listen on 0.0.0.0 with no public host THEN it says which option to give
    with pytest.raises(NoNetworkAddress, match="--public-host"):
        Listening("0.0.0.0").resolved()
    # AND with one found, it is resolved once
    monkeypatch.setattr(listening, "network_address", lambda: "10.0.0.7")
    assert Listening("0.0.0.0").resolved() == Listening("0.0.0.0", "10.0.0.7")


@pytest.mark.parametrize("text", ["banana", "256.1.1.1", "::1", ""])
def test_an_address_that_is_not_one_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not an IPv4 address"):
        listen_address(text)
