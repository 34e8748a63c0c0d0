// Open MPI's handles (MPI_COMM_WORLD, MPI_FLOAT, MPI_SUM, …) are macros that take addresses of
// library globals, which Swift cannot import; these functions return them.
#include <mpi.h>

static inline MPI_Comm eqprop_mpi_comm_world(void) { return MPI_COMM_WORLD; }
static inline MPI_Datatype eqprop_mpi_float(void) { return MPI_FLOAT; }
static inline MPI_Datatype eqprop_mpi_double(void) { return MPI_DOUBLE; }
static inline MPI_Datatype eqprop_mpi_uint64(void) { return MPI_UINT64_T; }
static inline MPI_Op eqprop_mpi_sum(void) { return MPI_SUM; }
static inline MPI_Op eqprop_mpi_min(void) { return MPI_MIN; }
static inline MPI_Op eqprop_mpi_max(void) { return MPI_MAX; }
static inline void *eqprop_mpi_in_place(void) { return MPI_IN_PLACE; }
static inline MPI_Errhandler eqprop_mpi_errors_return(void) { return MPI_ERRORS_RETURN; }
