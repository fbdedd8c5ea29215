// Anything that holds a resource (a pty, a socket, a timer, a subscription) says how to let
// it go. Shared by the server and the browser; no imports.

export interface Disposable {
  dispose(): void;
}
