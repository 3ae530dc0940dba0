import type { Instruction } from 'dockerfile-ast';
import { loadDockerfile } from './repo.js';

/** Facts read from the Dockerfile, shared by its own test and the manifest tests. */

export interface Stage {
  name: string | undefined;
  image: string;
  instructions: Instruction[];
}

/** Stages with their base image, ${ARG} defaults substituted as `docker build` does with no --build-arg. */
export function dockerStages(): Stage[] {
  const { dockerfile } = loadDockerfile();
  const defaults = new Map(
    dockerfile.getInitialARGs().map((a) => [a.getProperty()?.getName() ?? '', a.getProperty()?.getValue() ?? '']),
  );
  const stages: Stage[] = [];
  for (const instruction of dockerfile.getInstructions()) {
    if (instruction.getKeyword() === 'FROM') {
      const [image = '', as, name] = instruction.getArgumentsContent()?.split(/\s+/) ?? [];
      stages.push({
        name: as?.toUpperCase() === 'AS' ? name : undefined,
        image: image.replace(/\$\{?(\w+)\}?/g, (_m, v: string) => defaults.get(v) ?? ''),
        instructions: [],
      });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

export const args = (i: Instruction): string => i.getArgumentsContent() ?? '';
export const ofKind = (stage: Stage, keyword: string): Instruction[] =>
  stage.instructions.filter((i) => i.getKeyword() === keyword);

/** The uid/gid the final stage runs as, checked against the useradd/groupadd that create them. */
export function dockerUser(): { uid: number; gid: number; useradd: string } {
  const final = dockerStages().at(-1)!;
  const user = ofKind(final, 'USER').at(-1);
  const [uid, gid] = args(user!).split(':').map(Number);
  const runs = ofKind(final, 'RUN').map(args).join(' && ');
  const useradd = /useradd\b[^&;]*/.exec(runs)?.[0] ?? '';
  const groupadd = /groupadd\b[^&;]*/.exec(runs)?.[0] ?? '';
  const addedUid = Number(/--uid[ =](\d+)/.exec(useradd)?.[1]);
  const addedGid = Number(/--gid[ =](\d+)/.exec(groupadd)?.[1]);
  if (uid !== addedUid || gid !== addedGid)
    throw new Error(`USER ${uid}:${gid} is not the created ${addedUid}:${addedGid}`);
  return { uid, gid, useradd };
}
