#!/usr/bin/env bash
# Installs the system packages EdgeHAL needs on a fresh Debian machine (idempotent, quick when done).
set -euo pipefail
packages=(libvulkan-dev ocl-icd-opencl-dev opencl-headers pocl-opencl-icd mesa-vulkan-drivers
          glslc spirv-tools clinfo vulkan-tools vulkan-validationlayers python3-pip)
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if ((${#missing[@]})); then
  sudo=""; [ "$(id -u)" -eq 0 ] || sudo="sudo"
  echo "setup: installing ${missing[*]}"
  $sudo apt-get update -qq
  DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi
command -v swift >/dev/null || { echo "setup: swift 6 is required (https://swift.org/install)"; exit 1; }
