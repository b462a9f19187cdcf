"""The compliance YAML is "rules", not "policy" (policy is the acceptable-use paper): rename its table and column

Revision ID: 3b1f0c2d9a7e
Revises: dbf00bce6952
Create Date: 2026-12-01 21:40:00

"""
from alembic import op

# revision identifiers, used by Alembic.
revision = '3b1f0c2d9a7e'
down_revision = 'dbf00bce6952'
branch_labels = None
depends_on = None


def upgrade():
    op.rename_table('compliance_policy_versions', 'compliance_rules_versions')
    with op.batch_alter_table('compliance_rules_versions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_compliance_policy_versions_version', type_='unique')
        batch_op.create_unique_constraint(batch_op.f('uq_compliance_rules_versions_version'), ['version'])
        batch_op.drop_constraint('fk_compliance_policy_versions_created_by_id_users', type_='foreignkey')
        batch_op.create_foreign_key(batch_op.f('fk_compliance_rules_versions_created_by_id_users'), 'users',
                                    ['created_by_id'], ['id'], ondelete='RESTRICT')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE compliance_rules_versions RENAME CONSTRAINT pk_compliance_policy_versions '
                   'TO pk_compliance_rules_versions')
    with op.batch_alter_table('sweeps', schema=None) as batch_op:
        batch_op.drop_constraint('fk_sweeps_policy_version_id_compliance_policy_versions', type_='foreignkey')
        batch_op.alter_column('policy_version_id', new_column_name='rules_version_id')
    # A second batch: SQLite's table copy does not add a key on a column renamed in the same batch.
    with op.batch_alter_table('sweeps', schema=None) as batch_op:
        batch_op.create_foreign_key(batch_op.f('fk_sweeps_rules_version_id_compliance_rules_versions'),
                                    'compliance_rules_versions', ['rules_version_id'], ['id'])


def downgrade():
    with op.batch_alter_table('sweeps', schema=None) as batch_op:
        batch_op.drop_constraint('fk_sweeps_rules_version_id_compliance_rules_versions', type_='foreignkey')
    with op.batch_alter_table('sweeps', schema=None) as batch_op:
        batch_op.alter_column('rules_version_id', new_column_name='policy_version_id')
    if op.get_bind().dialect.name == 'postgresql':
        op.execute('ALTER TABLE compliance_rules_versions RENAME CONSTRAINT pk_compliance_rules_versions '
                   'TO pk_compliance_policy_versions')
    with op.batch_alter_table('compliance_rules_versions', schema=None) as batch_op:
        batch_op.drop_constraint('uq_compliance_rules_versions_version', type_='unique')
        batch_op.create_unique_constraint('uq_compliance_policy_versions_version', ['version'])
        batch_op.drop_constraint('fk_compliance_rules_versions_created_by_id_users', type_='foreignkey')
        batch_op.create_foreign_key('fk_compliance_policy_versions_created_by_id_users', 'users',
                                    ['created_by_id'], ['id'], ondelete='RESTRICT')
    op.rename_table('compliance_rules_versions', 'compliance_policy_versions')
    with op.batch_alter_table('sweeps', schema=None) as batch_op:
        batch_op.create_foreign_key('fk_sweeps_policy_version_id_compliance_policy_versions',
                                    'compliance_policy_versions', ['policy_version_id'], ['id'])
