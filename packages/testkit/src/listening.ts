import { readdirSync, readFileSync, readlinkSync } from 'node:fs';

/** A TCP socket in LISTEN state, as the kernel reports it in /proc/net/tcp and /proc/net/tcp6. */
export interface ListeningSocket {
  /** Dotted IPv4 (`127.0.0.1`, `0.0.0.0`) or IPv6 in full hex groups (`::` for any, `::ffff:127.0.0.1`). */
  address: string;
  port: number;
  inode: string;
}

const TCP_LISTEN = '0A';

function ipv4(hex: string): string {
  // /proc prints the address as one little-endian 32-bit word.
  const bytes = [6, 4, 2, 0].map((i) => Number.parseInt(hex.slice(i, i + 2), 16));
  return bytes.join('.');
}

function ipv6(hex: string): string {
  const words: string[] = [];
  for (let w = 0; w < 4; w++) {
    const word = hex.slice(w * 8, w * 8 + 8);
    const le = [6, 4, 2, 0].map((i) => word.slice(i, i + 2)).join('');
    words.push(le.slice(0, 4), le.slice(4, 8));
  }
  const groups = words.map((g) => Number.parseInt(g, 16));
  if (groups.every((g) => g === 0)) return '::';
  if (groups.slice(0, 5).every((g) => g === 0) && groups[5] === 0xffff) {
    const [a = 0, b = 0] = groups.slice(6);
    return `::ffff:${a >> 8}.${a & 255}.${b >> 8}.${b & 255}`;
  }
  return groups.map((g) => g.toString(16)).join(':');
}

/** Parses the text of /proc/net/tcp or /proc/net/tcp6 into its listening sockets. */
export function parseProcNetTcp(text: string, family: 4 | 6): ListeningSocket[] {
  const out: ListeningSocket[] = [];
  for (const line of text.split('\n').slice(1)) {
    const cols = line.trim().split(/\s+/);
    const [local, state, inode] = [cols[1], cols[3], cols[9]];
    if (local === undefined || state !== TCP_LISTEN || inode === undefined) continue;
    const [addr = '', port = ''] = local.split(':');
    out.push({ address: family === 4 ? ipv4(addr) : ipv6(addr), port: Number.parseInt(port, 16), inode });
  }
  return out;
}

function readOr(path: string): string {
  try {
    return readFileSync(path, 'utf8');
  } catch {
    return '';
  }
}

/** The sockets listening on a TCP port on this machine (Linux /proc; empty elsewhere). */
export function listeningOn(port: number): ListeningSocket[] {
  return [
    ...parseProcNetTcp(readOr('/proc/net/tcp'), 4),
    ...parseProcNetTcp(readOr('/proc/net/tcp6'), 6),
  ].filter((s) => s.port === port);
}

/**
 * The process holding a listening port, when this user may see it (its /proc/<pid>/fd is readable);
 * undefined when unknown. Best effort, for an error message.
 */
export function portHolder(port: number): { pid: number; command: string } | undefined {
  const inodes = new Set(listeningOn(port).map((s) => `socket:[${s.inode}]`));
  if (inodes.size === 0) return undefined;
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let fds: string[];
    try {
      fds = readdirSync(`/proc/${entry}/fd`);
    } catch {
      continue;
    }
    for (const fd of fds) {
      let target: string;
      try {
        target = readlinkSync(`/proc/${entry}/fd/${fd}`);
      } catch {
        continue;
      }
      if (inodes.has(target)) {
        const command = readOr(`/proc/${entry}/cmdline`).split('\0').filter(Boolean).join(' ').slice(0, 120);
        return { pid: Number(entry), command };
      }
    }
  }
  return undefined;
}
