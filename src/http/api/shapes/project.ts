import type { ProjectView } from '../../../services/project-service.js';

// Harbor's Project shape: /projects and the projects found by /search.

export function projectJson(view: ProjectView) {
  return {
    project_id: view.id,
    name: view.name,
    owner_id: view.owner_id ?? 0,
    owner_name: '',
    creation_time: view.created_at.toISOString(),
    update_time: view.updated_at.toISOString(),
    deleted: false,
    repo_count: view.repoCount,
    current_user_role_id: view.currentUserRole ?? 0,
    current_user_role_ids: view.currentUserRole ? [view.currentUserRole] : [],
    registry_id: 0,
    togglable: true,
    metadata: view.metadata,
  };
}
