"""Deployment files stay in step with the code: compose, Dockerfiles, .env.example and the extras.

Docker cannot run in CI, so these tests read the files instead: what compose starts, what each image
installs, and that .env.example documents exactly the variables the settings classes read.
"""

from __future__ import annotations

import inspect
import re
import tomllib
from pathlib import Path

import pytest
import yaml
from pydantic_settings import BaseSettings

import bot.config
import core.config
import workers.config as worker_config

ROOT = Path(__file__).resolve().parents[2]
COMPOSE = ROOT / "docker-compose.yml"
ENV_EXAMPLE = ROOT / ".env.example"
BOT_DOCKERFILE = ROOT / "docker" / "bot.Dockerfile"
WORKER_DOCKERFILE = ROOT / "docker" / "worker.Dockerfile"
DOCKERIGNORE = ROOT / ".dockerignore"

# Documented in .env.example, read by something other than the settings modules.
LIBRARY_VARIABLES = {
    "HF_HOME",  # huggingface_hub: cache of downloaded weights
    "HF_HUB_OFFLINE",  # huggingface_hub: never contact the Hub
    "PYTORCH_CUDA_ALLOC_CONF",  # torch: the CUDA allocator; workers/allocator.py sets a default when it is empty
    "REDIS_PASSWORD",  # docker-compose.yml: the redis service's password, put into REDIS_URL
    "POSTGRES_PASSWORD",  # docker-compose.yml: the postgres service's password, put into DATABASE_URL
}
# What the frontend image must never install: the GPU stack.
HEAVY_PACKAGES = {"torch", "torchvision", "diffusers", "transformers", "accelerate"}

_ENV_LINE = re.compile(r"^#?\s*([A-Z][A-Z0-9_]*)=")


@pytest.fixture(scope="module")
def compose() -> dict:
    return yaml.safe_load(COMPOSE.read_text(encoding="utf-8"))


def _service(compose: dict, name: str) -> dict:
    services = compose.get("services") or {}
    assert name in services, f"docker-compose.yml has no {name!r} service"
    return services[name]


def _command(service: dict) -> str:
    command = service.get("command", "")
    return " ".join(str(part) for part in command) if isinstance(command, list) else str(command)


def _environment(service: dict) -> dict[str, str]:
    env = service.get("environment") or {}
    if isinstance(env, list):
        env = dict(item.split("=", 1) if "=" in item else (item, "") for item in env)
    return {key: str(value) for key, value in env.items()}


def _depends_on_healthy_redis(service: dict) -> bool:
    depends = service.get("depends_on") or {}
    return isinstance(depends, dict) and (depends.get("redis") or {}).get("condition") == "service_healthy"


SETTINGS_MODULES = (core.config, bot.config, worker_config)  # shared, the frontend's, a worker's


def settings_variables() -> set[str]:
    """Every variable a ``BaseSettings`` class in the settings modules reads: prefix + field name, upper-cased."""
    classes = [
        cls
        for module in SETTINGS_MODULES
        for _, cls in inspect.getmembers(module, inspect.isclass)
        if issubclass(cls, BaseSettings) and cls is not BaseSettings and cls.__module__ == module.__name__
    ]
    assert {cls.__module__ for cls in classes} == {module.__name__ for module in SETTINGS_MODULES}
    names = set()
    for cls in classes:
        prefix = cls.model_config.get("env_prefix", "")
        for field_name, field in cls.model_fields.items():
            alias = field.validation_alias if isinstance(field.validation_alias, str) else None
            names.add((alias or f"{prefix}{field_name}").upper())
    return names


def example_variables() -> set[str]:
    """Variables in .env.example, set (``NAME=``) or commented out (``# NAME=``)."""
    names = set()
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = _ENV_LINE.match(line.strip())
        if match:
            names.add(match.group(1))
    return names


# --- docker-compose.yml ---------------------------------------------------------------------------------


def test_compose_has_the_three_services(compose):
    assert {"redis", "bot", "worker"} <= set(compose["services"])


def test_redis_is_pinned_persistent_password_protected_and_health_checked(compose):
    redis = _service(compose, "redis")
    image = redis["image"]
    assert image.startswith("redis:7") and not image.endswith(":latest"), image
    command = _command(redis)
    assert re.search(r"--appendonly\s+yes\b", command), command
    assert re.search(r"--appendfsync\s+everysec\b", command), command
    assert "--requirepass" in command and "REDIS_PASSWORD" in command, command
    assert "redis-cli" in " ".join(redis["healthcheck"]["test"]) and "ping" in " ".join(redis["healthcheck"]["test"])
    data_volume = next(v for v in redis["volumes"] if v.split(":")[1] == "/data")
    assert data_volume.split(":")[0] in compose["volumes"], "redis data must live on a named volume"


@pytest.mark.parametrize(
    ("name", "command", "dockerfile"),
    [("bot", "python -m bot", "docker/bot.Dockerfile"), ("worker", "python -m workers", "docker/worker.Dockerfile")],
)
def test_bot_and_worker_build_run_and_reach_redis(compose, name, command, dockerfile):
    service = _service(compose, name)
    assert _command(service) == command
    assert service["build"]["dockerfile"] == dockerfile
    assert (ROOT / service["build"].get("context", ".") / dockerfile).is_file()
    assert re.fullmatch(r"redis://:\$\{REDIS_PASSWORD\}@redis:6379/\d+", _environment(service)["REDIS_URL"])
    assert _depends_on_healthy_redis(service), f"{name} must wait for a healthy redis"
    assert service.get("restart") == "unless-stopped"


def test_bot_reads_env_file(compose):
    env_file = _service(compose, "bot")["env_file"]
    assert ".env" in ([env_file] if isinstance(env_file, str) else env_file)


def test_worker_reserves_a_gpu(compose):
    devices = _service(compose, "worker")["deploy"]["resources"]["reservations"]["devices"]
    assert any(d.get("driver") == "nvidia" and "gpu" in d.get("capabilities", []) for d in devices), devices


def test_worker_keeps_the_model_cache_on_a_named_volume(compose):
    worker = _service(compose, "worker")
    mounts = dict(reversed(volume.split(":")[:2]) for volume in worker["volumes"])
    assert mounts.get("/home/molbert/.cache") in compose["volumes"], mounts
    assert _environment(worker)["HF_HOME"].startswith("/home/molbert/.cache")
    assert "MODEL_PRESET" in _environment(worker)


# --- .env.example -------------------------------------------------------------------------------------


def test_env_example_documents_every_setting():
    missing = settings_variables() - example_variables()
    assert not missing, f".env.example lacks {sorted(missing)}"


def test_env_example_has_nothing_unknown():
    unknown = example_variables() - settings_variables() - LIBRARY_VARIABLES
    assert not unknown, f".env.example names variables nothing reads: {sorted(unknown)}"


def test_env_example_contract_names_and_library_section():
    names = example_variables()
    assert {"TELEGRAM_BOT_TOKEN", "TELEGRAM_API_URL", "DISCORD_TOKEN", "REDIS_URL", "MODEL_PRESET"} <= names
    assert names >= LIBRARY_VARIABLES


def test_env_example_holds_no_secrets():
    for line in ENV_EXAMPLE.read_text(encoding="utf-8").splitlines():
        match = re.match(r"^#?\s*([A-Z0-9_]*(TOKEN|PASSWORD))=(.*)$", line.strip())
        if match:
            assert match.group(3) == "", f"{match.group(1)} must be empty in .env.example"


def test_compose_variables_are_documented(compose):
    used = set(re.findall(r"\$\{([A-Z][A-Z0-9_]*)", COMPOSE.read_text(encoding="utf-8")))
    assert used <= example_variables(), f"compose reads undocumented {sorted(used - example_variables())}"


# --- images and extras ----------------------------------------------------------------------------------


def _instructions(dockerfile: Path) -> list[str]:
    """Dockerfile instructions without comments, continuation lines joined."""
    lines = dockerfile.read_text(encoding="utf-8").splitlines()
    text = "\n".join(line for line in lines if not line.lstrip().startswith("#"))
    return [line.strip() for line in text.replace("\\\n", " ").splitlines() if line.strip()]


def _requirement_name(requirement: str) -> str:
    return re.match(r"[A-Za-z0-9._-]+", requirement).group(0).lower().replace("_", "-")


def _extra_requirements(project: dict, extra: str) -> list[str]:
    """The requirements of ``extra``, with self-references such as ``molbert[bot]`` expanded."""
    requirements = []
    for requirement in project["optional-dependencies"][extra]:
        self_ref = re.match(rf"{re.escape(project['name'])}\[([^\]]+)\]", requirement)
        if self_ref:
            for inner in self_ref.group(1).split(","):
                requirements += _extra_requirements(project, inner.strip())
        else:
            requirements.append(requirement)
    return requirements


def test_bot_requirements_have_no_gpu_stack():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))["project"]
    names = {_requirement_name(r) for r in [*project["dependencies"], *_extra_requirements(project, "bot")]}
    assert not names & HEAVY_PACKAGES, f"core or bot extra pulls in {sorted(names & HEAVY_PACKAGES)}"


def test_bot_image_installs_the_bot_extra_and_no_torch():
    instructions = _instructions(BOT_DOCKERFILE)
    assert re.fullmatch(r"ARG PYTHON_IMAGE=python:3\.11\.\d+-slim-\w+", instructions[0]), instructions[0]
    assert any(re.search(r"pip install .*\.\[bot\]", line) for line in instructions)
    assert not any(re.search(r"\b(torch|diffusers|transformers)\b", line) for line in instructions)
    assert any(line.startswith("USER ") and line.split()[1] not in ("root", "0") for line in instructions)
    assert instructions[-1] == 'CMD ["python", "-m", "bot"]'


def test_worker_image_installs_torch_then_the_worker_extra_as_non_root():
    instructions = _instructions(WORKER_DOCKERFILE)
    from_lines = [line for line in instructions if line.startswith(("FROM ", "ARG CUDA_IMAGE="))]
    assert any(re.search(r"nvidia/cuda:\d+\.\d+\.\d+-", line) for line in from_lines), from_lines
    torch_at = next(i for i, line in enumerate(instructions) if re.search(r"pip install .*torch==", line))
    extra_at = next(i for i, line in enumerate(instructions) if re.search(r"pip install .*\.\[worker\]", line))
    assert torch_at < extra_at
    assert any(line.startswith("USER ") and line.split()[1] not in ("root", "0") for line in instructions)
    assert instructions[-1] == 'CMD ["python", "-m", "workers"]'


def test_worker_image_can_compile_for_model_compile():
    """torch.compile (MODEL_COMPILE) builds kernels at run time: the final stage has g++ (which brings gcc, Triton's
    compiler on CUDA) and the headers of the Python it runs (workers/__main__.py refuses the setting without)."""
    instructions = _instructions(WORKER_DOCKERFILE)
    final = instructions[[i for i, line in enumerate(instructions) if line.startswith("FROM ")][-1] :]
    python = re.search(r"install .*\b(python3\.\d+)\b", " ".join(instructions)).group(1)
    installs = " ".join(line for line in final if "apt-get install" in line)
    assert re.search(r"\bg\+\+", installs) and f"{python}-dev" in installs, installs


def test_dockerignore_keeps_secrets_and_local_state_out():
    ignored = {line.strip().rstrip("/") for line in DOCKERIGNORE.read_text(encoding="utf-8").splitlines()}
    assert {".env", ".venv", ".venv-min", ".git", "data"} <= ignored


@pytest.mark.parametrize("dockerfile", [BOT_DOCKERFILE, WORKER_DOCKERFILE, ROOT / "docker" / "rq-dashboard.Dockerfile"])
def test_images_are_multi_stage_and_run_only_the_venv_as_non_root(dockerfile):
    instructions = _instructions(dockerfile)
    stages = [i for i, line in enumerate(instructions) if line.startswith("FROM ")]
    assert len(stages) >= 2, "build tools stay in a build stage"
    final = instructions[stages[-1] :]
    assert any(line.startswith("COPY --from=build /opt/venv") for line in final)
    assert not any(re.search(r"pip install", line) for line in final), "nothing is installed in the final stage"
    users = [line.split()[1] for line in final if line.startswith("USER ")]
    assert users and users[-1] not in ("root", "0")


def test_every_base_image_is_pinned_to_a_release():
    bases = []
    for dockerfile in (ROOT / "docker").glob("*.Dockerfile"):
        bases += re.findall(r"^ARG \w+_IMAGE=(\S+)", dockerfile.read_text(encoding="utf-8"), re.MULTILINE)
    bases += [
        service["image"] for service in yaml.safe_load(COMPOSE.read_text())["services"].values() if "image" in service
    ]
    assert bases
    for image in bases:
        assert re.search(r":v?\d+\.\d+(\.\d+)?(-[\w.-]+)?$", image), f"{image} is not pinned to a version"


# --- optional profiles: rq-dashboard and Prometheus ------------------------------------------------------


def test_dashboard_and_prometheus_are_opt_in_profiles_reachable_only_from_the_host(compose):
    for name, profile in (("rq-dashboard", "dashboard"), ("prometheus", "monitoring")):
        service = _service(compose, name)
        assert service["profiles"] == [profile]
        assert all(port.startswith("127.0.0.1:") for port in service["ports"]), service["ports"]
    for name in ("redis", "bot", "worker"):
        assert "profiles" not in _service(compose, name), f"{name} must start without a profile"


def test_rq_dashboard_reads_our_json_jobs_with_our_rq():
    from importlib.metadata import version

    dashboard = _service(yaml.safe_load(COMPOSE.read_text()), "rq-dashboard")
    assert re.fullmatch(
        r"redis://:\$\{REDIS_PASSWORD\}@redis:6379/0", dashboard["environment"]["RQ_DASHBOARD_REDIS_URL"]
    )
    instructions = _instructions(ROOT / dashboard["build"]["dockerfile"])
    assert any(f'"rq=={version("rq")}"' in line for line in instructions), "the dashboard must run the workers' rq"
    assert "--json" in instructions[-1], "our jobs are JSON (JSONSerializer), not pickle"


def test_prometheus_scrapes_the_bot_and_every_worker_on_their_metrics_ports(compose):
    config = yaml.safe_load((ROOT / "docker" / "prometheus.yml").read_text(encoding="utf-8"))
    jobs = {job["job_name"]: job for job in config["scrape_configs"]}
    bot_port = bot.config.BotSettings.model_fields["metrics_port"].default
    worker_port = worker_config.WorkerSettings.model_fields["metrics_port"].default
    assert jobs["molbert-bot"]["static_configs"][0]["targets"] == [f"bot:{bot_port}"]
    workers = jobs["molbert-worker"]["dns_sd_configs"][0]  # DNS: every `--scale worker=N` replica
    assert (workers["names"], workers["type"], workers["port"]) == (["worker"], "A", worker_port)
    mounted = _service(compose, "prometheus")["volumes"][0].split(":")
    assert (mounted[0], mounted[1]) == ("./docker/prometheus.yml", "/etc/prometheus/prometheus.yml")


def test_compose_runs_postgres_for_the_feedback_database(compose):
    """The bot keeps feedback in the compose `postgres` service (a named volume), and waits for it to be healthy."""
    postgres = _service(compose, "postgres")
    assert postgres["image"].startswith("postgres:") and not postgres["image"].endswith(":latest")
    data = next(v for v in postgres["volumes"] if v.split(":")[1] == "/var/lib/postgresql/data")
    assert data.split(":")[0] in compose["volumes"]
    bot = _service(compose, "bot")
    assert _environment(bot)["DATABASE_URL"].startswith("postgresql+psycopg://molbert:${POSTGRES_PASSWORD}@postgres:")
    assert bot["depends_on"]["postgres"]["condition"] == "service_healthy"
