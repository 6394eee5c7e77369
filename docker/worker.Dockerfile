# A GPU worker (`python -m workers`): torch with CUDA, diffusers, transformers; models stay loaded.
# Build from the repository root: docker build -f docker/worker.Dockerfile -t molbert-worker .
#
# The torch wheel brings its own CUDA user-space libraries and cuDNN (torch 2.13.0 from PyPI: CUDA 13.0), so the
# base image only needs CUDA's "base" flavour; its NVIDIA_REQUIRE_CUDA makes a host driver that is too old
# (CUDA 13 needs driver >= 580) fail at container start instead of silently running on the CPU.
# For an older driver, build with a CUDA 12 base and a matching torch index, e.g.
#   --build-arg CUDA_IMAGE=nvidia/cuda:12.6.3-base-ubuntu22.04 \
#   --build-arg TORCH_INDEX_URL=https://download.pytorch.org/whl/cu126 --build-arg TORCH_VERSION=<one it has>
#
# Two stages: the first installs Python, builds the virtualenv and fills it; the second gets Python and the
# venv (no pip cache, no PPA tooling), plus the compilers MODEL_COMPILE needs, and runs as an unprivileged user.
ARG CUDA_IMAGE=nvidia/cuda:13.0.1-base-ubuntu22.04

FROM ${CUDA_IMAGE} AS python
ENV DEBIAN_FRONTEND=noninteractive
# Python 3.11 (Ubuntu 22.04 ships 3.10) from the deadsnakes PPA; the venv module only in the build stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates gnupg software-properties-common \
    && add-apt-repository -y ppa:deadsnakes/ppa \
    && apt-get install -y --no-install-recommends python3.11 \
    && apt-get purge -y --auto-remove software-properties-common gnupg \
    && rm -rf /var/lib/apt/lists/*

FROM python AS build
ARG TORCH_VERSION=2.13.0
# empty = the default package index (pip's configuration)
ARG TORCH_INDEX_URL=
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN apt-get update \
    && apt-get install -y --no-install-recommends python3.11-venv \
    && rm -rf /var/lib/apt/lists/* \
    && python3.11 -m venv /opt/venv \
    && /opt/venv/bin/pip install --upgrade pip
# torch first, in its own layer: the biggest download changes least often.
RUN /opt/venv/bin/pip install ${TORCH_INDEX_URL:+--index-url=$TORCH_INDEX_URL} "torch==${TORCH_VERSION}"
WORKDIR /src
COPY pyproject.toml README.md ./
COPY core/ core/
COPY bot/ bot/
COPY handlers/ handlers/
COPY workers/ workers/
COPY models/ models/
# torch is already satisfied, so this keeps the CUDA build installed above.
RUN /opt/venv/bin/pip install ".[worker]"
# the upscaler (spandrel) without its dependencies: see the `upscale` extra in pyproject.toml
RUN /opt/venv/bin/python -c 'import tomllib; print(*tomllib.load(open("pyproject.toml", "rb"))["project"]["optional-dependencies"]["upscale"], sep="\n")' > /tmp/upscale.txt \
    && /opt/venv/bin/pip install --no-deps -r /tmp/upscale.txt

FROM python
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    VIRTUAL_ENV=/opt/venv \
    PATH=/opt/venv/bin:$PATH \
    HF_HOME=/home/molbert/.cache/huggingface
# MODEL_COMPILE: torch.compile builds kernels at run time against Python's headers, with gcc on CUDA (Triton) and
# g++ on the CPU (inductor); g++ brings gcc. About 200 MB; without them the worker refuses MODEL_COMPILE=true at
# start. The deadsnakes PPA's list is still here from the first stage.
RUN apt-get update \
    && apt-get install -y --no-install-recommends g++ libc6-dev python3.11-dev \
    && rm -rf /var/lib/apt/lists/*
# The model cache lives in ~/.cache (HF_HOME and MODEL_CACHE_DIR's default): created here, owned by the user,
# so that a named volume mounted there starts with the right owner.
RUN useradd --create-home --uid 1000 --shell /usr/sbin/nologin molbert \
    && mkdir -p /home/molbert/.cache/huggingface /home/molbert/.cache/molbert \
    && chown -R molbert:molbert /home/molbert/.cache
COPY --from=build /opt/venv /opt/venv
WORKDIR /app
USER molbert
CMD ["python", "-m", "workers"]
