"""The reference peer: the todo API as the project's original Python seed
wrote it, FastAPI + SQLModel (SQLAlchemy) + psycopg2, passlib bcrypt, PyJWT
HS256, served by uvicorn --workers 2 (bench/peer/README.md says how it is
built and started, bench/run.sh PEER=1 runs it side by side with the Go
service).

It is written the way a typical FastAPI + SQLModel guide writes it, on
purpose: sync path functions (FastAPI runs them in its thread pool), one
Session per request from a dependency, the guide's engine settings, the
current user loaded from the database on every request, response models
validated by pydantic, and the seed's naive search (ILIKE '%q%' on title and
description, q not escaped). It is a yardstick, not a second service: do
not optimise it.

The schema is the one the Go service's migrations create (the peer runs on
a database that `todo-api migrate up` built and bench/seed.sql seeded): no
create_all, no Alembic. Only the columns the seed had are mapped; the rest
(token_version, auth_issuer, ...) keep their database defaults.

Settings (environment):
  DATABASE_URL       postgresql://postgres@127.0.0.1:5432/todo_bench
                     (postgres:// and postgresql:// both work)
  SECRET_KEY         HS256 signing key of the peer's own tokens
  ACCESS_TOKEN_EXPIRE_MINUTES [30]
  API_V1_PREFIX      [/api/v1]
"""

import os
from datetime import datetime, timedelta, timezone
from typing import List, Optional

import jwt
from fastapi import Depends, FastAPI, HTTPException, Query, Request, status
from fastapi.security import OAuth2PasswordBearer
from passlib.context import CryptContext
from pydantic import BaseModel
from sqlalchemy import func
from sqlalchemy.exc import IntegrityError
from sqlmodel import Field, Session, SQLModel, col, create_engine, or_, select

DATABASE_URL = os.environ.get("DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/todo_bench")
if DATABASE_URL.startswith("postgres://"):
    DATABASE_URL = "postgresql://" + DATABASE_URL[len("postgres://"):]
SECRET_KEY = os.environ.get("SECRET_KEY", "change-me-peer-secret")
ALGORITHM = "HS256"
ACCESS_TOKEN_EXPIRE_MINUTES = int(os.environ.get("ACCESS_TOKEN_EXPIRE_MINUTES", "30"))
API_V1_PREFIX = os.environ.get("API_V1_PREFIX", "/api/v1")

# The guide's engine settings.
engine = create_engine(
    DATABASE_URL,
    pool_size=10,
    max_overflow=20,
    pool_pre_ping=True,
    pool_recycle=300,
)

pwd_context = CryptContext(schemes=["bcrypt"], deprecated="auto")
oauth2_scheme = OAuth2PasswordBearer(tokenUrl=f"{API_V1_PREFIX}/auth/login")


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


# ---------------------------------------------------------------- models


class User(SQLModel, table=True):
    __tablename__ = "users"

    id: Optional[int] = Field(default=None, primary_key=True)
    email: str = Field(max_length=255)
    username: str = Field(max_length=50)
    hashed_password: Optional[str] = None
    is_active: bool = True
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class UserCreate(SQLModel):
    email: str = Field(max_length=255)
    username: str = Field(min_length=3, max_length=50, regex=r"^[A-Za-z0-9_.-]{3,50}$")
    password: str = Field(min_length=8, max_length=72)


class UserRead(SQLModel):
    id: int
    email: str
    username: str
    is_active: bool
    created_at: datetime
    updated_at: datetime


class TodoBase(SQLModel):
    title: str = Field(min_length=1, max_length=255)
    description: Optional[str] = Field(default=None, max_length=10000)
    completed: bool = False
    priority: int = Field(default=0, ge=0, le=5)
    due_date: Optional[datetime] = None


class Todo(TodoBase, table=True):
    __tablename__ = "todos"

    id: Optional[int] = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="users.id")
    created_at: datetime = Field(default_factory=utcnow)
    updated_at: datetime = Field(default_factory=utcnow)


class TodoCreate(TodoBase):
    pass


class TodoUpdate(SQLModel):
    title: Optional[str] = Field(default=None, min_length=1, max_length=255)
    description: Optional[str] = Field(default=None, max_length=10000)
    completed: Optional[bool] = None
    priority: Optional[int] = Field(default=None, ge=0, le=5)
    due_date: Optional[datetime] = None


class TodoRead(TodoBase):
    id: int
    created_at: datetime
    updated_at: datetime


class TodoPage(BaseModel):
    items: List[TodoRead]
    total: int
    limit: int
    offset: int
    next_cursor: Optional[str] = None


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class LoginBody(BaseModel):
    username: str
    password: str


# ---------------------------------------------------------------- dependencies


def get_session():
    with Session(engine) as session:
        yield session


def create_access_token(user_id: int) -> str:
    expire = utcnow() + timedelta(minutes=ACCESS_TOKEN_EXPIRE_MINUTES)
    return jwt.encode({"sub": str(user_id), "exp": expire}, SECRET_KEY, algorithm=ALGORITHM)


def get_current_user(token: str = Depends(oauth2_scheme), session: Session = Depends(get_session)) -> User:
    unauthorized = HTTPException(
        status_code=status.HTTP_401_UNAUTHORIZED,
        detail="Could not validate credentials",
        headers={"WWW-Authenticate": "Bearer"},
    )
    try:
        payload = jwt.decode(token, SECRET_KEY, algorithms=[ALGORITHM])
        user_id = int(payload.get("sub"))
    except (jwt.PyJWTError, TypeError, ValueError):
        raise unauthorized
    user = session.get(User, user_id)
    if user is None or not user.is_active:
        raise unauthorized
    return user


# ---------------------------------------------------------------- app

app = FastAPI(title="todo-api seed (reference peer)")


@app.get("/healthz")
def healthz():
    return {"status": "ok"}


@app.post(f"{API_V1_PREFIX}/auth/register", response_model=UserRead, status_code=201)
def register(user_in: UserCreate, session: Session = Depends(get_session)):
    email = user_in.email.lower()
    taken = session.exec(
        select(User).where(or_(User.email == email, func.lower(User.username) == user_in.username.lower()))
    ).first()
    if taken:
        raise HTTPException(status_code=409, detail="Email or username already registered")
    user = User(email=email, username=user_in.username, hashed_password=pwd_context.hash(user_in.password))
    session.add(user)
    try:
        session.commit()
    except IntegrityError:
        session.rollback()
        raise HTTPException(status_code=409, detail="Email or username already registered")
    session.refresh(user)
    return user


@app.post(f"{API_V1_PREFIX}/auth/login", response_model=Token)
async def login(request: Request, session: Session = Depends(get_session)):
    # JSON {username, password} as bench/run.sh sends it, or the OAuth2
    # password form of the guide (username may be an email).
    if request.headers.get("content-type", "").startswith("application/x-www-form-urlencoded"):
        form = await request.form()
        username, password = form.get("username") or "", form.get("password") or ""
    else:
        try:
            body = LoginBody(**(await request.json()))
        except Exception:
            raise HTTPException(status_code=422, detail="username and password are required")
        username, password = body.username, body.password
    user = session.exec(
        select(User).where(or_(func.lower(User.username) == username.lower(), User.email == username.lower()))
    ).first()
    if not user or not user.hashed_password or not pwd_context.verify(password, user.hashed_password):
        raise HTTPException(status_code=401, detail="Incorrect username or password", headers={"WWW-Authenticate": "Bearer"})
    if not user.is_active:
        raise HTTPException(status_code=401, detail="Inactive user")
    return Token(access_token=create_access_token(user.id), expires_in=ACCESS_TOKEN_EXPIRE_MINUTES * 60)


@app.get(f"{API_V1_PREFIX}/users/me", response_model=UserRead)
def read_me(current_user: User = Depends(get_current_user)):
    return current_user


SORTS = {
    "created_at": Todo.created_at,
    "priority": Todo.priority,
    "due_date": Todo.due_date,
    "title": Todo.title,
}


@app.get(f"{API_V1_PREFIX}/todos", response_model=TodoPage)
def list_todos(
    completed: Optional[bool] = None,
    min_priority: Optional[int] = Query(default=None, ge=0, le=5),
    q: Optional[str] = Query(default=None, max_length=200),
    due_before: Optional[datetime] = None,
    due_after: Optional[datetime] = None,
    sort: str = "-created_at",
    limit: int = Query(default=20, ge=1, le=100),
    offset: int = Query(default=0, ge=0),
    session: Session = Depends(get_session),
    current_user: User = Depends(get_current_user),
):
    statement = select(Todo).where(Todo.user_id == current_user.id)
    if completed is not None:
        statement = statement.where(Todo.completed == completed)
    if min_priority is not None:
        statement = statement.where(Todo.priority >= min_priority)
    if q:
        # The seed's search: a plain substring match, q not escaped.
        pattern = f"%{q}%"
        statement = statement.where(or_(col(Todo.title).ilike(pattern), col(Todo.description).ilike(pattern)))
    if due_before is not None:
        statement = statement.where(Todo.due_date < due_before)
    if due_after is not None:
        statement = statement.where(Todo.due_date > due_after)

    total = session.exec(select(func.count()).select_from(statement.subquery())).one()

    key = sort.lstrip("-")
    if key not in SORTS:
        raise HTTPException(status_code=422, detail=f"sort must be one of {', '.join(SORTS)} (or with a leading -)")
    column = SORTS[key]
    if sort.startswith("-"):
        statement = statement.order_by(col(column).desc(), col(Todo.id).desc())
    else:
        statement = statement.order_by(col(column).asc(), col(Todo.id).asc())
    items = session.exec(statement.offset(offset).limit(limit)).all()
    return TodoPage(items=items, total=total, limit=limit, offset=offset)


@app.post(f"{API_V1_PREFIX}/todos", response_model=TodoRead, status_code=201)
def create_todo(
    todo_in: TodoCreate,
    session: Session = Depends(get_session),
    current_user: User = Depends(get_current_user),
):
    todo = Todo.from_orm(todo_in, update={"user_id": current_user.id})
    session.add(todo)
    session.commit()
    session.refresh(todo)
    return todo


def get_own_todo(session: Session, todo_id: int, user: User) -> Todo:
    todo = session.get(Todo, todo_id)
    if not todo or todo.user_id != user.id:
        raise HTTPException(status_code=404, detail="Todo not found")
    return todo


@app.get(f"{API_V1_PREFIX}/todos/{{todo_id}}", response_model=TodoRead)
def read_todo(todo_id: int, session: Session = Depends(get_session), current_user: User = Depends(get_current_user)):
    return get_own_todo(session, todo_id, current_user)


@app.patch(f"{API_V1_PREFIX}/todos/{{todo_id}}", response_model=TodoRead)
def update_todo(
    todo_id: int,
    todo_in: TodoUpdate,
    session: Session = Depends(get_session),
    current_user: User = Depends(get_current_user),
):
    todo = get_own_todo(session, todo_id, current_user)
    for field, value in todo_in.dict(exclude_unset=True).items():
        setattr(todo, field, value)
    todo.updated_at = utcnow()
    session.add(todo)
    session.commit()
    session.refresh(todo)
    return todo


@app.delete(f"{API_V1_PREFIX}/todos/{{todo_id}}", status_code=204)
def delete_todo(todo_id: int, session: Session = Depends(get_session), current_user: User = Depends(get_current_user)):
    todo = get_own_todo(session, todo_id, current_user)
    session.delete(todo)
    session.commit()
