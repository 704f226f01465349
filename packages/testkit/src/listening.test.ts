import { describe, expect, it } from 'vitest';
import { parseProcNetTcp } from './listening.ts';

const HEADER =
  '  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode';

describe('parseProcNetTcp', () => {
  it('reads listening IPv4 sockets with their address, port and inode, and skips other states', () => {
    const text = [
      HEADER,
      '   0: 0100007F:1F90 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 1111 1 0',
      '   1: 00000000:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0',
      '   2: 0100007F:1F90 0100007F:C350 01 00000000:00000000 00:00000000 00000000     0        0 3333 1 0',
    ].join('\n');

    expect(parseProcNetTcp(text, 4)).toEqual([
      { address: '127.0.0.1', port: 8080, inode: '1111' },
      { address: '0.0.0.0', port: 80, inode: '2222' },
    ]);
  });

  it('reads IPv6 any, IPv4-mapped loopback and IPv6 loopback listeners', () => {
    const text = [
      HEADER,
      '   0: 00000000000000000000000000000000:1F40 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 10 1 0',
      '   1: 0000000000000000FFFF00000100007F:1F41 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 11 1 0',
      '   2: 00000000000000000000000001000000:1F42 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000 0 0 12 1 0',
    ].join('\n');

    expect(parseProcNetTcp(text, 6).map((s) => [s.address, s.port])).toEqual([
      ['::', 8000],
      ['::ffff:127.0.0.1', 8001],
      ['0:0:0:0:0:0:0:1', 8002],
    ]);
  });
});
