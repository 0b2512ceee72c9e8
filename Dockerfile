# gnnjet with CUDA. Build: docker build -t gnnjet .   Run: ./run_docker.sh [-d DATA_DIR] [COMMAND ...]
# torch is installed at requirements.txt's pin from PyPI, whose Linux x86_64 wheel is the CUDA build (its CUDA
# libraries come as pip packages; the GPU driver comes from the host through `docker run --gpus all`), so the image
# runs the torch version the tests run. No Docker engine runs on gnnjet's CI machines: the tests check this file
# (hadolint, the pins, every file the README's Docker commands use) and the image is built on a user's machine.
ARG PYTHON_IMAGE=python:3.11-slim-bookworm
FROM ${PYTHON_IMAGE}

ENV PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PATH=/opt/gnnjet:/opt/gnnjet/bin:${PATH}

WORKDIR /opt/gnnjet

# Every pin of requirements.txt as it is (torch included), then ONNX export and ONNX Runtime with CUDA.
COPY requirements.txt requirements-deploy.txt ./
RUN python -m pip install --no-cache-dir -r requirements.txt -r requirements-deploy.txt

# Optional PyG extras (torch-scatter, torch-cluster) from the PyG wheel index where wheels exist
# for this torch/CUDA pair; gnnjet works without them (it owns its knn).
SHELL ["/bin/bash", "-o", "pipefail", "-c"]
RUN TORCH_TAG="$(python -c 'import torch; v=torch.__version__.split("+")[0]; c=(torch.version.cuda or "cpu").replace(".",""); print(f"{v}+" + ("cu"+c if c!="cpu" else "cpu"))')" \
    && (python -m pip install --no-cache-dir torch-scatter==2.1.2 torch-cluster==1.6.3 --only-binary=:all: \
        -f "https://data.pyg.org/whl/torch-${TORCH_TAG}.html" \
        || echo "no prebuilt torch-scatter/torch-cluster for torch ${TORCH_TAG}: skipped")

COPY pyproject.toml README.md run_configs.sh ./
COPY gnnjet ./gnnjet
COPY bin ./bin
COPY configs ./configs
RUN python -m pip install --no-cache-dir --no-deps . && chmod +x bin/*.py bin/*.sh run_configs.sh

WORKDIR /workspace
CMD ["bash"]
