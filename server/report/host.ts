// The identity of the host an SSH run ran on, as the run recorded it (options.targetInfo.ssh,
// see target/ssh.ts), in the short forms the Markdown and JUnit reports show. Pure.

export interface HostFacts {
  hostKey?: string;
  machineId?: string;
  os?: string;
  kernel?: string;
  hostname?: string;
  acceptedNew?: boolean;
}

/** The recorded SSH host identity of a run, or undefined for a local or lab run. */
export function hostFacts(options: Record<string, unknown>): HostFacts | undefined {
  const info = options.targetInfo as { ssh?: Record<string, unknown> } | undefined;
  const s = info?.ssh;
  if (!s || typeof s !== 'object') return undefined;
  const str = (v: unknown) => (typeof v === 'string' && v ? v : undefined);
  const os = s.os as { id?: unknown; versionId?: unknown } | undefined;
  const osText = os && str(os.id) ? `${os.id as string}${str(os.versionId) ? ` ${os.versionId as string}` : ''}` : undefined;
  const f: HostFacts = {};
  const key = str(s.hostKey);
  if (key) f.hostKey = `${str(s.hostKeyType) ? `${s.hostKeyType as string} ` : ''}${key}`;
  if (str(s.machineId)) f.machineId = s.machineId as string;
  if (osText) f.os = osText;
  if (str(s.kernel)) f.kernel = s.kernel as string;
  if (str(s.hostname)) f.hostname = s.hostname as string;
  if (s.hostKeyAcceptedNew === true) f.acceptedNew = true;
  return f;
}
