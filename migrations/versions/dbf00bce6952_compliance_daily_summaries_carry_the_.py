"""compliance: daily summaries carry the team; covering indexes for the trend; partial index of failing rule states

Revision ID: dbf00bce6952
Revises: f63f842e862a
Create Date: 2026-11-28 21:40:18.813893

"""
from alembic import op
import sqlalchemy as sa


# revision identifiers, used by Alembic.
revision = 'dbf00bce6952'
down_revision = 'f63f842e862a'
branch_labels = None
depends_on = None


def upgrade():
    with op.batch_alter_table('compliance_daily', schema=None) as batch_op:
        batch_op.add_column(sa.Column('team_id', sa.Integer(), nullable=True))
        batch_op.drop_index(batch_op.f('ix_daily_day'))
        batch_op.create_index('ix_daily_day_state_device', ['day', 'state', 'device_id'], unique=False)
        batch_op.create_index('ix_daily_team_day_state', ['team_id', 'day', 'state'], unique=False)
        batch_op.create_foreign_key(batch_op.f('fk_compliance_daily_team_id_teams'), 'teams', ['team_id'], ['id'], ondelete='SET NULL')

    with op.batch_alter_table('device_rule_states', schema=None) as batch_op:
        batch_op.create_index('ix_rule_state_failing_device', ['device_id'], unique=False, sqlite_where=sa.text('failing_since IS NOT NULL'), postgresql_where=sa.text('failing_since IS NOT NULL'))

    # Summaries written before this revision: the phone's team now is the best answer there is.
    op.execute("UPDATE compliance_daily SET team_id = "
               "(SELECT devices.team_id FROM devices WHERE devices.id = compliance_daily.device_id)")


def downgrade():
    with op.batch_alter_table('device_rule_states', schema=None) as batch_op:
        batch_op.drop_index('ix_rule_state_failing_device', sqlite_where=sa.text('failing_since IS NOT NULL'), postgresql_where=sa.text('failing_since IS NOT NULL'))

    with op.batch_alter_table('compliance_daily', schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f('fk_compliance_daily_team_id_teams'), type_='foreignkey')
        batch_op.drop_index('ix_daily_team_day_state')
        batch_op.drop_index('ix_daily_day_state_device')
        batch_op.create_index(batch_op.f('ix_daily_day'), ['day'], unique=False)
        batch_op.drop_column('team_id')
