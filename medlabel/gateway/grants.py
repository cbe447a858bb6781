"""What a physician may reach right now, read from routing's assignments on every request."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from medlabel.models import Assignment, Physician, ProjectRecord, RoutedTask
from medlabel.models.routing import HOLDING_STATES, AssignmentState


@dataclass(frozen=True)
class Grants:
    """One physician's reach: the tasks they hold a read of, and which of them are still open to label."""

    physician_id: int
    ls_user_id: int
    #: LS task id -> LS project id, for every task they hold a read of (open or submitted).
    tasks: dict[int, int]
    #: LS task ids still waiting for their read: what the label stream may hand out.
    open_tasks: frozenset[int]
    #: LS project id -> model-version prefixes physicians may see (None: every prediction).
    shown_models: dict[int, tuple[str, ...] | None]

    @property
    def projects(self) -> frozenset[int]:
        return frozenset(self.tasks.values())

    def holds(self, ls_task_id: int, ls_project_id: int | None = None) -> bool:
        project = self.tasks.get(ls_task_id)
        return project is not None and (ls_project_id is None or project == ls_project_id)

    def open_in(self, ls_project_id: int) -> list[int]:
        return sorted(t for t in self.open_tasks if self.tasks[t] == ls_project_id)


def load_grants(session: Session, physician: Physician) -> Grants:
    rows = session.execute(
        select(
            RoutedTask.ls_task_id, ProjectRecord.ls_project_id, Assignment.state, ProjectRecord.shown_models
        )
        .join(RoutedTask, RoutedTask.id == Assignment.task_id)
        .join(ProjectRecord, ProjectRecord.id == RoutedTask.project_id)
        .where(Assignment.physician_id == physician.id, Assignment.state.in_(HOLDING_STATES))
    ).all()
    return Grants(
        physician_id=physician.id,
        ls_user_id=physician.ls_user_id or -1,
        tasks={task: project for task, project, _state, _shown in rows},
        open_tasks=frozenset(task for task, _p, state, _s in rows if state == AssignmentState.ASSIGNED.value),
        shown_models={
            project: tuple(shown) if shown is not None else None for _t, project, _s, shown in rows
        },
    )
