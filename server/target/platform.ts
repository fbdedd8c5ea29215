// Maps /etc/os-release to the platform identities runbooks use in `os=`. Pure.

export function platformFromOsRelease(text: string): string {
  const field = (k: string) => {
    const m = new RegExp(`^${k}=("?)([^"\\n]*)\\1\\s*$`, 'm').exec(text);
    return m ? m[2].toLowerCase() : '';
  };
  const id = field('ID');
  const like = field('ID_LIKE').split(/\s+/);
  const major = field('VERSION_ID').split('.')[0];
  if (id === 'rhel' || id === 'centos' || id === 'rocky' || id === 'almalinux' || like.includes('rhel')) {
    return major ? `rhel${major}` : 'rhel';
  }
  if (id === 'debian' || id === 'ubuntu' || like.includes('debian')) return 'debian';
  return id || 'linux';
}
