// What this process holds that must be released — shell sessions, labs — by a description.
// Tests ask it at the end of every file and name whatever is still alive, so a leak fails a
// test instead of keeping the test process from exiting.

const live = new Map<object, string>();

/** Records a resource as alive; call the returned function when it is released. */
export function track(resource: object, description: string): () => void {
  live.set(resource, description);
  return () => {
    live.delete(resource);
  };
}

/** Descriptions of every resource still alive in this process. */
export function liveResources(): string[] {
  return [...live.values()];
}
