import { readFileSync } from 'node:fs';
import path from 'node:path';
import { replacePrivateFile } from './data-dir.ts';
import { PortInUseError } from './free-port.ts';
import { type FrontDoor, openFrontDoor } from './front-door.ts';

/** Each function URL's port, by id, in DATA_DIR: taken again after a restart. */
export const FUNCTION_URLS_FILE = 'function-urls.json';

/**
 * A server for each function URL (on AWS, a URL of its own), on the port it had in the last run on
 * this DATA_DIR, as a Lambda Function URL stays the same across deployments: messages sent before a
 * restart name it in their StatusCallback, and the simulator resumes their callbacks. A port taken
 * meanwhile gives another, with a warning (`warn`); the ports are written back for the next start.
 * Resolves to the servers by id; rejects (closing any it opened) when a server cannot listen.
 */
export async function openFunctionUrlDoors(
  dataDir: string,
  ids: readonly string[],
  warn: (message: string) => void,
): Promise<Record<string, FrontDoor>> {
  const ports = readPorts(dataDir);
  const doors: Record<string, FrontDoor> = {};
  try {
    for (const id of ids) {
      const kept = ports[id];
      doors[id] = await openFrontDoor(kept ?? 0).catch((error: unknown) => {
        if (!kept || !(error instanceof PortInUseError)) throw error;
        warn(
          `function URL ${id}: port ${kept} is taken now, so another was chosen; callbacks of messages sent before this start go to the old one and are lost (recovery asks Twilio for those messages)`,
        );
        return openFrontDoor(0);
      });
      ports[id] = doors[id].port;
    }
  } catch (error) {
    await Promise.all(Object.values(doors).map((door) => door.close()));
    throw error;
  }
  replacePrivateFile(path.join(dataDir, FUNCTION_URLS_FILE), `${JSON.stringify(ports)}\n`);
  return doors;
}

/** The ports of the last run, by id; none when the file is missing or unreadable. */
function readPorts(dataDir: string): Record<string, number> {
  try {
    const kept: unknown = JSON.parse(readFileSync(path.join(dataDir, FUNCTION_URLS_FILE), 'utf8'));
    const isPort = (port: unknown): port is number =>
      Number.isInteger(port) && Number(port) > 0 && Number(port) < 65_536;
    return Object.fromEntries(
      Object.entries(kept as Record<string, unknown>).filter((entry): entry is [string, number] =>
        isPort(entry[1]),
      ),
    );
  } catch {
    return {};
  }
}
