"""Device names (aer, fake_<name>, ibm_<name>) and IBM Quantum credentials, all offline."""

from __future__ import annotations

import json
import secrets

import pytest

pytest.importorskip("qiskit_aer")
pytest.importorskip("qiskit_ibm_runtime")

import qiskit_ibm_runtime
from qiskit_aer import AerSimulator
from qiskit_ibm_runtime import QiskitRuntimeService, fake_provider
from qiskit_ibm_runtime.accounts import management

from qtrain.backends import qiskit_devices
from qtrain.backends.qiskit_devices import (
    CREDENTIAL_ENV,
    Credentials,
    check_device,
    device_kind,
    fake_devices,
    load_credentials,
    resolve_device,
)
from qtrain.errors import ConfigError, CredentialsError


@pytest.fixture
def no_credentials(tmp_path, monkeypatch):
    """No credential variables, and the runtime's saved-account file is a path in tmp_path."""
    for name in CREDENTIAL_ENV:
        monkeypatch.delenv(name, raising=False)
    path = tmp_path / "qiskit" / "qiskit-ibm.json"
    monkeypatch.setattr(management, "_DEFAULT_ACCOUNT_CONFIG_JSON_FILE", str(path))
    return path


def test_aer_and_fake_device_names_resolve_to_backends():
    simulator = resolve_device("aer")
    assert isinstance(simulator, AerSimulator) and simulator.options.method == "statevector"
    assert resolve_device("aer", method="density_matrix").options.method == "density_matrix"
    manila = resolve_device("fake_manila")
    assert isinstance(manila, fake_provider.FakeManilaV2)
    assert manila.name == "fake_manila" and manila.num_qubits == 5
    assert isinstance(resolve_device("fake_torino"), fake_provider.FakeTorino)  # no V2 suffix
    assert [device_kind(n) for n in ("aer", "fake_x", "ibm_x", "ibm_", "x")] == [
        "aer",
        "fake",
        "ibm",
        "",
        "",
    ]


def test_fake_devices_are_read_from_the_provider_not_a_table():
    devices = fake_devices()
    base = fake_provider.fake_backend.FakeBackendV2
    classes = {
        value
        for value in vars(fake_provider).values()
        if isinstance(value, type) and issubclass(value, base) and value is not base
    }
    assert set(devices.values()) == classes and len(devices) > 40
    assert devices["fake_manila"] is fake_provider.FakeManilaV2
    assert all(name.startswith("fake_") and name == name.lower() for name in devices)


def test_an_unknown_device_names_the_accepted_forms_and_close_matches():
    with pytest.raises(ConfigError) as error:
        resolve_device("fake_manilla")
    text = str(error.value)
    assert "unknown device 'fake_manilla'" in text
    assert "'aer'" in text and "'fake_<name>'" in text and "'ibm_<name>'" in text
    assert "did you mean 'fake_manila'" in text
    with pytest.raises(ConfigError, match="did you mean 'fake_manila'"):
        check_device("manila")
    with pytest.raises(ConfigError, match="did you mean 'aer'"):
        check_device("aerr")
    with pytest.raises(ConfigError) as error:
        check_device("quantinuum_h2")
    assert "did you mean" not in str(error.value)


def test_aer_methods_are_checked_and_devices_take_none():
    with pytest.raises(ConfigError, match="Aer has no method 'dense'"):
        resolve_device("aer", method="dense")
    with pytest.raises(ConfigError, match="only for device 'aer'"):
        resolve_device("fake_manila", method="density_matrix")


def test_credentials_from_the_environment(no_credentials, monkeypatch):
    token = secrets.token_hex(22)
    monkeypatch.setenv("QISKIT_IBM_TOKEN", token)
    monkeypatch.setenv("QISKIT_IBM_INSTANCE", "crn:v1:bluemix:public:quantum-computing:x")
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", "ibm_cloud")
    found = load_credentials()
    assert found.token == token and found.channel == "ibm_cloud"
    assert found.instance == "crn:v1:bluemix:public:quantum-computing:x" and found.url is None
    assert "QISKIT_IBM_TOKEN" in found.source
    assert found.service_kwargs() == {
        "channel": "ibm_cloud",
        "token": token,
        "instance": "crn:v1:bluemix:public:quantum-computing:x",
    }
    monkeypatch.setenv("QISKIT_IBM_URL", "https://auth.example")
    assert load_credentials().service_kwargs()["url"] == "https://auth.example"
    monkeypatch.setenv("QISKIT_IBM_CHANNEL", "ibm_quantum")  # the retired channel
    with pytest.raises(CredentialsError, match="QISKIT_IBM_CHANNEL is 'ibm_quantum'") as error:
        load_credentials()
    assert token not in str(error.value)
    assert not no_credentials.exists()  # the environment wins: the file is not even read


def test_credentials_from_a_saved_account_file(no_credentials):
    token = secrets.token_hex(22)
    QiskitRuntimeService.save_account(
        token=token, instance="my-instance", filename=str(no_credentials), set_as_default=True
    )
    found = load_credentials()  # through the runtime's default path, pointed at tmp_path
    assert found.token == token and found.instance == "my-instance"
    assert found.channel == "ibm_quantum_platform" and str(no_credentials) in found.source
    assert load_credentials(account_file=no_credentials) == found
    other = no_credentials.parent / "other.json"
    QiskitRuntimeService.save_account(token="t" * 30, filename=str(other), name="lab")
    assert load_credentials(account_file=other, name="lab").token == "t" * 30
    with pytest.raises(CredentialsError, match="no saved account named 'nobody'"):
        load_credentials(account_file=other, name="nobody")


def test_missing_credentials_are_one_clear_error_and_create_no_file(no_credentials):
    with pytest.raises(CredentialsError) as error:
        load_credentials()
    text = str(error.value)
    assert "QISKIT_IBM_TOKEN is not set" in text and "QISKIT_IBM_INSTANCE" in text
    assert str(no_credentials) in text and "does not exist" in text
    assert "save_account" in text and "never go in a run config" in text
    assert not no_credentials.exists()  # the runtime's reader would have created it
    with pytest.raises(CredentialsError, match="no IBM Quantum credentials"):
        check_device("ibm_torino")
    with pytest.raises(CredentialsError):
        resolve_device("ibm_torino")


def test_a_damaged_account_file_is_a_credentials_error_without_its_contents(no_credentials):
    token = secrets.token_hex(22)
    no_credentials.parent.mkdir(parents=True)
    no_credentials.write_text('{"default": {"token": "' + token + '", ')  # cut short
    with pytest.raises(CredentialsError, match="is not valid JSON") as error:
        load_credentials()
    assert token not in str(error.value)
    empty = {"default-ibm-cloud": {"channel": "ibm_cloud", "token": ""}}
    no_credentials.write_text(json.dumps(empty))
    with pytest.raises(CredentialsError, match="has no token"):
        load_credentials()


def test_credentials_never_show_the_token():
    token = "sk-" + secrets.token_hex(20)
    credentials = Credentials(token, instance="crn:x", source="test")
    for text in (repr(credentials), str(credentials), f"{credentials}", repr([credentials])):
        assert token not in text and "****" + token[-4:] in text
    assert token[:-4] not in repr(credentials)
    assert token not in repr(Credentials("short-token"))
    assert "****'" in repr(Credentials("short-token"))


def test_an_ibm_device_is_built_from_the_loaded_credentials(no_credentials, monkeypatch):
    """The service is a stand-in: the real one needs the network (not tested here)."""
    token = secrets.token_hex(22)
    monkeypatch.setenv("QISKIT_IBM_TOKEN", token)
    made = []

    class FakeService:
        def __init__(self, **kwargs):
            made.append(kwargs)

        def backend(self, name):
            return ("device", name, self)

    monkeypatch.setattr(qiskit_ibm_runtime, "QiskitRuntimeService", FakeService)
    kind, name, service = resolve_device("ibm_torino")
    assert (kind, name) == ("device", "ibm_torino") and isinstance(service, FakeService)
    assert made == [{"channel": "ibm_quantum_platform", "token": token}]
    given = Credentials("g" * 24, channel="ibm_cloud")
    resolve_device("ibm_kyiv", credentials=given)
    assert made[-1] == {"channel": "ibm_cloud", "token": "g" * 24}
    assert qiskit_devices.device_kind("ibm_kyiv") == "ibm"
