# Node.js for CI and for developers; sourced by .ci/run. Locally: `source .ci/node.sh` (bash)
# in the shell you run pnpm from. Needs only npm and the npm registry.
#
# When the machine's node is older than 22, installs Node 24 LTS from the npm registry's
# node-<os>-<arch> package (the official Node binaries; its bin/node is the binary) into
# $VSH_NODE_CACHE/<version> (default ~/.cache/vsh-node/<version>), installs pnpm 10 next to it
# with that node, and puts that bin directory first on PATH, so pnpm, turbo, vitest, tsx and every
# child process (`node` on PATH or process.execPath) run on it. A second run reuses the install.
# VSH_NODE_VERSION picks another release.

vsh_node_setup() {
  local want="${VSH_NODE_VERSION:-24.22.3}"
  local major=0
  if command -v node >/dev/null 2>&1; then
    major="$(node -p 'process.versions.node.split(".")[0]' 2>/dev/null || echo 0)"
  fi

  if [ "$major" -lt 22 ]; then
    local os arch
    case "$(uname -s)" in
      Linux) os=linux ;;
      Darwin) os=darwin ;;
      *) echo "node.sh: no Node package for $(uname -s); install Node 22+ yourself" >&2; return 1 ;;
    esac
    case "$(uname -m)" in
      x86_64 | amd64) arch=x64 ;;
      aarch64 | arm64) arch=arm64 ;;
      *) echo "node.sh: no Node package for $(uname -m); install Node 22+ yourself" >&2; return 1 ;;
    esac
    local cache="${VSH_NODE_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/vsh-node}"
    local home="$cache/$want"

    if [ "$("$home/bin/node" --version 2>/dev/null)" != "v$want" ]; then
      echo "node.sh: installing Node $want (npm package node-$os-$arch@$want) into $home"
      local tmp
      mkdir -p "$cache" && tmp="$(mktemp -d "$cache/.tmp.XXXXXX")" || return 1
      # npm pack checks the tarball against the registry's integrity hash.
      if ! (cd "$tmp" && npm pack --loglevel=error --no-update-notifier "node-$os-$arch@$want" >/dev/null &&
        mkdir pkg && tar -xzf ./*.tgz -C pkg --strip-components=1 &&
        "$tmp/pkg/bin/node" --version >/dev/null); then
        rm -rf "$tmp"
        echo "node.sh: could not install Node $want from the npm registry" >&2
        return 1
      fi
      rm -rf "$home" && mv "$tmp/pkg" "$home" && rm -rf "$tmp" || return 1
    fi

    case ":$PATH:" in
      *":$home/bin:"*) ;;
      *) export PATH="$home/bin:$PATH" ;;
    esac
    hash -r 2>/dev/null || true
    # The official binaries trust only their bundled CAs; distribution builds of node (Debian's) use
    # the OS certificate store. Keep the OS store so a registry reached through a TLS-inspecting
    # proxy whose CA is installed on the machine still works for npm and pnpm.
    export NODE_USE_SYSTEM_CA="${NODE_USE_SYSTEM_CA:-1}"
    # node-gyp builds against this node's headers, not a nodedir set in ~/.npmrc for the system node.
    if [ -d "$home/include/node" ]; then export npm_config_nodedir="$home"; fi

    # pnpm next to that node, installed by npm running on it (npm's `node` is now this one).
    if [ ! -x "$home/bin/pnpm" ]; then
      npm i -g --loglevel=error --no-update-notifier --prefix "$home" pnpm@10 >/dev/null ||
        { echo "node.sh: could not install pnpm 10 with Node $want" >&2; return 1; }
      hash -r 2>/dev/null || true
    fi
  elif ! command -v pnpm >/dev/null 2>&1; then
    npm i -g pnpm@10
  fi

  echo "node $(node --version) ($(command -v node)), pnpm $(pnpm --version) ($(command -v pnpm))"
}

vsh_node_setup
