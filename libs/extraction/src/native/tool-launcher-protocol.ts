// The messages between ToolLauncher and its launcher process (tool-launcher-host.ts), over Node's IPC with the
// structured-clone serialization, so byte chunks travel as bytes.

export type LauncherRequest =
  | {
      op: 'spawn';
      id: number;
      command: string;
      args: string[];
      /** Added to the launcher's environment (which is the worker's). */
      env: Record<string, string> | undefined;
    }
  /** null closes the tool's stdin. */
  | { op: 'stdin'; id: number; data: Uint8Array | null }
  | { op: 'pause'; id: number }
  | { op: 'resume'; id: number }
  | { op: 'kill'; id: number };

export type LauncherReply =
  | { op: 'spawned'; id: number; pid: number }
  | { op: 'error'; id: number; code: string | null; message: string }
  | { op: 'stdout'; id: number; data: Uint8Array }
  | { op: 'stderr'; id: number; data: Uint8Array }
  | { op: 'exit'; id: number; code: number | null; signal: NodeJS.Signals | null }
  | { op: 'close'; id: number; code: number | null; signal: NodeJS.Signals | null };
